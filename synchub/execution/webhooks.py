"""Posting a webhook hook: the run's context as JSON to the hook's URL. Success is
a 2xx answer within the hook's timeout; anything else (another status, a redirect,
which is not followed, a timeout, no connection) is a failure, told without the
URL, which is a secret, and without the answer's body."""

from __future__ import annotations

from synchub.core.hooks import Hook, HookContext


def post(hook: Hook, ctx: HookContext) -> tuple[int, str]:
    """0 and "" when the receiver answered 2xx; else -1 (or the status) and why."""
    # Imported here: httpx pulls in rich, which a worker must not load before forking.
    import httpx

    assert hook.url is not None, "a webhook's URL is opened before it is posted"
    try:
        answer = httpx.post(
            hook.url,
            json=ctx.body(hook.event),
            timeout=hook.timeout_s,
            follow_redirects=False,  # a redirect could lead anywhere, even to this host
            headers={"User-Agent": "synchub-webhook"},
        )
    except httpx.TimeoutException:
        return -1, f"timed out after {hook.timeout_s}s"
    except httpx.HTTPError as exc:
        # The exception's text may hold the URL: only its kind is told.
        return -1, f"cannot post: {type(exc).__name__}"
    if 200 <= answer.status_code < 300:
        return 0, ""
    return answer.status_code, f"answered HTTP {answer.status_code}"
