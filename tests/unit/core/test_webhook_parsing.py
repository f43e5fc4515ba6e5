"""Webhook hooks in core: parsing a given URL and the stored (sealed) form, how
views show them, and what they are posted."""

from __future__ import annotations

import pytest

from synchub.core.errors import InvalidInput
from synchub.core.hooks import (
    Hook,
    HookContext,
    HookEvent,
    has_commands,
    parse_hooks,
    shown,
    stored,
    url_hint,
)


def test_a_given_url_is_a_webhook_that_starts_no_program() -> None:
    hooks = parse_hooks({"after": [{"url": " https://h.example/x?t=1 ", "timeout": "10s"}]})
    (hook,) = hooks[HookEvent.AFTER]
    assert (hook.url, hook.timeout_s, hook.is_webhook) == ("https://h.example/x?t=1", 10, True)
    assert not has_commands(hooks)
    assert hook.label() == "after webhook https://h.example/…"


def test_the_stored_form_round_trips_and_views_show_the_hint_only() -> None:
    sealed = Hook(HookEvent.BEFORE, url_sealed="gAAAA-sealed", url_hint="https://h.example/…")
    raw = stored({HookEvent.BEFORE: [sealed]})
    assert stored(parse_hooks(raw)) == raw
    assert shown(raw) == {
        "before": [{"url": "https://h.example/…", "timeout_s": 60, "on_error": "continue"}]
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"url": "ftp://h.example/"}, "http:// or https://"),
        ({"url": "https:///path"}, "with a host"),
        ({"url": 5}, "url must be a string"),
        ({"url": "https://h.example/", "command": ["/bin/true"]}, "either command"),
        ({"url_sealed": "x"}, "give url"),
    ],
)
def test_bad_webhooks_are_refused_naming_the_hook(item: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        parse_hooks({"after": [item]})
    assert "hooks.after[0]" in str(caught.value)


def test_the_body_is_the_runs_context() -> None:
    ctx = HookContext(job="j", run_id=3, state="failed", error="boom", bytes=1, files=2)
    assert ctx.body(HookEvent.ON_FAILURE) == {
        "event": "on_failure", "job": "j", "run_id": 3, "state": "failed", "error": "boom",
        "bytes": 1, "files": 2, "deletes": 0,
    }  # fmt: skip
    assert url_hint("http://user:pw@10.0.0.1:8080/a") == "http://10.0.0.1/…"
