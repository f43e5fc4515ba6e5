"""The job form's hooks, one row per hook: its event, its command or URL, its
timeout and what a failure does. Read into the API's `hooks` object for the
services, which check everything; their errors name a hook by event and place
(`hooks.before[0]: …`), which is mapped back to the row it came from.

A webhook's URL may hold a token: a stored one is shown by its hint (the services
keep the stored URL when the hint comes back at the same place), and one typed in
is never sent back in a page."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synchub.core.durations import format_duration, parse_duration
from synchub.core.errors import InvalidInput
from synchub.core.hooks import DEFAULT_TIMEOUT_S, MAX_HOOKS, HookEvent
from synchub.services.jobs.job_views import HookView

EVENTS = tuple(e.value for e in HookEvent)
#: Rows read from a post: ten hooks for each event.
MAX_ROWS = MAX_HOOKS * len(EVENTS)
#: Blank rows a page offers under the job's hooks.
SPARE = 2
PARTS = ("event", "target", "timeout", "on_error")
ROW = "hook.{}.{}"
#: "hooks.before[0]" at the start of a services' message.
_PLACE = re.compile(r"^hooks\.(\w+)\[(\d+)\]")
RETYPE = "Type the webhook's URL again: a URL may hold a token, so it is never shown back."


def name(row: int, part: str) -> str:
    return ROW.format(row, part)


@dataclass(frozen=True)
class HookRow:
    event: str = EVENTS[0]
    target: str = ""  #: a JSON argv list, an absolute program alone, or an http(s) URL
    timeout: str = ""  #: blank: the default
    on_error: str = "continue"

    @property
    def blank(self) -> bool:
        return not self.target.strip() and not self.timeout.strip()

    @property
    def is_url(self) -> bool:
        return self.target.strip().startswith(("http://", "https://"))

    @property
    def is_hint(self) -> bool:
        """A stored webhook as the views show it (scheme://host/…)."""
        return self.is_url and self.target.strip().endswith("…")


def of_view(hooks: Mapping[str, list[HookView]]) -> list[HookRow]:
    """The rows showing a job's hooks (a job's view: webhooks by their hints)."""
    rows = []
    for event, items in hooks.items():
        for hook in items:
            timeout = "" if hook.timeout_s == DEFAULT_TIMEOUT_S else _text(hook.timeout_s)
            rows.append(HookRow(event, _shown_target(hook), timeout, hook.on_error))
    return rows


def _shown_target(hook: HookView) -> str:
    """A command as JSON, a webhook by its URL's hint."""
    return json.dumps(hook.command) if hook.command is not None else hook.url or ""


def posted(fields: Mapping[str, str]) -> list[HookRow]:
    """The rows of a post, up to the last one given."""
    rows = []
    for i in range(MAX_ROWS):
        if name(i, "target") not in fields and name(i, "event") not in fields:
            break
        got = {part: fields.get(name(i, part), "") for part in PARTS}
        rows.append(
            HookRow(
                got["event"] or EVENTS[0],
                got["target"],
                got["timeout"],
                got["on_error"] or "continue",
            )
        )
    return rows


def given(rows: list[HookRow]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """The API's `hooks` object for the rows, and each hook's row by its place
    ("before[0]"). InvalidInput, blamed on the row's input, for a row that is no
    command or URL at all."""
    hooks: dict[str, list[dict[str, Any]]] = {}
    rows_of: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row.blank:
            continue
        hook: dict[str, Any] = _target(row, i)
        if row.timeout.strip():
            hook["timeout"] = row.timeout.strip()
        hook["on_error"] = row.on_error
        items = hooks.setdefault(row.event, [])
        rows_of[f"{row.event}[{len(items)}]"] = i
        items.append(hook)
    return hooks, rows_of


def _target(row: HookRow, i: int) -> dict[str, Any]:
    text = row.target.strip()
    where = name(i, "target")
    if not text:
        raise InvalidInput("Give the hook's command or URL, or clear its timeout", field=where)
    if row.is_url:
        return {"url": text}
    if text.startswith("["):
        try:
            return {"command": json.loads(text)}
        except (json.JSONDecodeError, RecursionError):  # nested past the parser's depth
            pass
    elif text.startswith("/") and not any(c.isspace() for c in text):
        return {"command": [text]}  # a program without arguments
    raise InvalidInput(
        'Give the command as a JSON list, e.g. ["/usr/local/bin/mount-nas", "/mnt/nas"] '
        "(an argv, run without a shell), a program's absolute path alone, or an "
        "http(s):// URL for a webhook",
        field=where,
    )


def same(given_hooks: dict[str, list[dict[str, Any]]], view: Mapping[str, list[HookView]]) -> bool:
    """Whether the hooks given are those the job has (its view's): an edit keeps them."""
    given = [
        (event, h.get("url") or json.dumps(h.get("command")), _seconds(h.get("timeout")),
         h.get("on_error", "continue"))
        for event, items in given_hooks.items()
        for h in items
    ]  # fmt: skip
    kept = [
        (event, _shown_target(h), h.timeout_s, h.on_error)
        for event, items in view.items()
        for h in items
    ]
    return given == kept


def row_input(message: str, rows_of: dict[str, int]) -> str:
    """The input beside which a services' message about a hook is shown: the row's
    part it names, else "hooks" (the hooks as a whole)."""
    found = _PLACE.match(message)
    if found is None:
        return "hooks"
    row = rows_of.get(f"{found.group(1)}[{found.group(2)}]")
    if row is None:
        return "hooks"
    rest = message[found.end() :]
    part = "timeout" if "timeout" in rest else "on_error" if "on_error" in rest else "target"
    return name(row, part)


def _seconds(text: str | None) -> int | None:
    if text is None:
        return DEFAULT_TIMEOUT_S
    try:
        return parse_duration(text)
    except InvalidInput:
        return None


def _text(seconds: int) -> str:
    return format_duration(seconds)
