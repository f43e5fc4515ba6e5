"""The CLI's spelling of hooks and chains: `--hook` and `--after`, and how `job show`
prints them."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synchub.core.errors import InvalidInput
from synchub.core.hooks import url_hint

if TYPE_CHECKING:
    from synchub.services.jobs.job_views import JobView

Hook = Annotated[
    list[str] | None,
    typer.Option(
        "--hook",
        metavar="EVENT[:fail][:TIMEOUT]=ARGV|URL",
        help="Run a command around each run, ARGV a JSON list (no shell), or post the "
        "run's context to an http(s) URL (a webhook, kept sealed): "
        "before|after|on_failure|finally, e.g. 'before:fail:5m=[\"/usr/local/bin/mount-nas\"]'; "
        "a before hook exiting 75 skips the run (repeat; admin only)",
    ),
]
After = Annotated[
    list[str] | None,
    typer.Option(
        "--after",
        metavar="JOB[:success|failure|always]",
        help="Run when JOB's run ends so, retries done (default success; repeat)",
    ),
]


def hooks_given(given: list[str] | None) -> dict[str, list[dict[str, Any]]] | None:
    """`--hook` options as the API's `hooks` object (None when none is given); the
    services check the rest. InvalidInput for a spelling that is not
    EVENT[:fail|continue][:TIMEOUT]=JSON-LIST."""
    if not given:
        return None
    hooks: dict[str, list[dict[str, Any]]] = {}
    for text in given:
        head, sep, argv_text = text.partition("=")
        if not sep:
            raise InvalidInput(
                f"Bad --hook {_shown(text)!r}: give "
                'EVENT[:fail][:TIMEOUT]=["/program", "arg"] or EVENT[:fail][:TIMEOUT]=URL',
                field="hooks",
            )
        event, *rest = head.strip().split(":")
        target = argv_text.strip()
        hook: dict[str, Any] = (
            {"url": target}
            if target.startswith(("http://", "https://"))
            else {"command": _argv(argv_text, text)}
        )
        for part in rest:
            if part in ("fail", "continue"):
                hook["on_error"] = part
            else:
                hook["timeout"] = part
        hooks.setdefault(event, []).append(hook)
    return hooks


def _shown(text: str) -> str:
    """An option's text for a message: a URL (a secret) by its hint only."""
    return url_hint(text) if "://" in text else text


def _argv(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise InvalidInput(
            f"Bad --hook {option!r}: the command is a JSON list of strings, e.g. "
            f'\'["/usr/bin/backup-report", "--quiet"]\' (no shell)',
            field="hooks",
        ) from None


def hook_lines(view: JobView) -> list[str]:
    """`job show`'s lines for the job's hooks and chains, both ways."""
    lines = []
    for event, hooks in view.hooks.items():
        for hook in hooks:
            if hook.command is None:  # a webhook, by its URL's hint
                argv = f"POST {hook.url}"
            else:
                argv = " ".join(shlex.quote(arg) for arg in hook.command)
            lines.append(
                f"  hook {event}: {argv} (timeout {hook.timeout_s}s, on error {hook.on_error})"
            )
    for link in view.after:
        lines.append(f"  runs after {link.job} ({link.on.value})")
    for link in view.chained_by:
        lines.append(f"  followed by {link.job} (on {link.on.value})")
    return lines
