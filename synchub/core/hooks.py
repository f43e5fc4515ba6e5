"""Hooks: commands (argv lists, never a shell) or webhooks (an HTTP POST) around a
job's runs.

When each event's hooks run, in this order:

1. `before`: before the work. Exit 75 (EX_TEMPFAIL, borgmatic's "soft failure")
   skips the run, recorded as skipped with the hook's last line as the reason.
   Another failure stops the run as failed when the hook's policy is `fail`.
2. `after`: after the work, whatever its outcome (or after a failed `before`).
3. `on_failure`: when the run is not succeeding at this point.
4. `finally`: last, always (also after a skip).

Every hook gets the run's context (SYNCHUB_JOB, SYNCHUB_RUN_ID, SYNCHUB_STATE,
SYNCHUB_ERROR, SYNCHUB_BYTES, SYNCHUB_FILES, SYNCHUB_DELETES, SYNCHUB_HOOK): in its
environment. Nothing else of synchub's environment: no secrets. A webhook gets
the same context as a JSON body. Its URL is a credential: the services seal it
(`url_sealed`) and show only its hint (`url_hint`, scheme://host/…).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from synchub.core.durations import parse_duration
from synchub.core.errors import InvalidInput

#: A `before` hook exiting with this code skips the run (sysexits.h EX_TEMPFAIL).
SKIP_EXIT = 75
#: A hook's timeout when none is given, and the longest one allowed.
DEFAULT_TIMEOUT_S = 60
MAX_TIMEOUT_S = 6 * 3600
#: Hooks per event, and the longest argv or URL kept.
MAX_HOOKS = 10
MAX_ARG_CHARS = 4096
MAX_ARGS = 100
#: A webhook's URL given as the services' mask: keep the stored one.
MASKED = "********"


class HookEvent(StrEnum):
    BEFORE = "before"  #: before the work; exit 75 skips the run
    AFTER = "after"  #: after the work, whatever its outcome
    ON_FAILURE = "on_failure"  #: when the run is not succeeding
    FINALLY = "finally"  #: last, always


class OnError(StrEnum):
    CONTINUE = "continue"  #: a failing hook is logged; the run goes on
    FAIL = "fail"  #: a failing hook fails the run (alerts fire as for any failure)


@dataclass(frozen=True)
class Hook:
    """One command (an argv run directly, no shell) or one webhook (a URL posted
    the run's context), with its timeout and policy."""

    event: HookEvent
    argv: tuple[str, ...] = ()  #: the program (an absolute path) and its arguments
    timeout_s: int = DEFAULT_TIMEOUT_S
    on_error: OnError = OnError.CONTINUE
    url: str | None = None  #: a webhook's URL in clear: given, or opened by a runner
    url_sealed: str | None = None  #: a webhook's URL as the job row keeps it
    url_hint: str | None = None  #: what may be shown of it: scheme://host/…

    @property
    def is_webhook(self) -> bool:
        return not self.argv

    def label(self) -> str:
        """How the log names it: the event and the program, or the URL's hint."""
        if self.is_webhook:
            return f"{self.event.value} webhook {self.url_hint or url_hint(self.url or '')}"
        return f"{self.event.value} hook {self.argv[0]}"

    def as_dict(self) -> dict[str, Any]:
        """The stored form (a webhook's URL sealed: see the module's docstring)."""
        if self.is_webhook:
            assert self.url_sealed is not None, "a webhook's URL is sealed before it is kept"
            head: dict[str, Any] = {"url_sealed": self.url_sealed, "url_hint": self.url_hint}
        else:
            head = {"command": list(self.argv)}
        return {**head, "timeout_s": self.timeout_s, "on_error": self.on_error.value}


Hooks = dict[HookEvent, list[Hook]]


def parse_hooks(raw: Any) -> Hooks:
    """A job's hooks from their stored or given form,
    `{"before": [{"command": ["/abs/program", "arg"]}, ...], ...}`, each
    optionally with "timeout" (a duration, or seconds) and "on_error". InvalidInput
    names the hook at fault ("hooks.before[0]")."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidInput("hooks must be an object of event: [hook, ...]", field="hooks")
    hooks: Hooks = {}
    for key, items in raw.items():
        try:
            event = HookEvent(key)
        except ValueError:
            known = ", ".join(e.value for e in HookEvent)
            raise InvalidInput(
                f"hooks: unknown event {key!r}: use {known}", field="hooks"
            ) from None
        if not isinstance(items, list) or len(items) > MAX_HOOKS:
            raise InvalidInput(
                f"hooks.{key} must be a list of at most {MAX_HOOKS} hooks", field="hooks"
            )
        parsed = [_hook(event, item, f"hooks.{key}[{i}]") for i, item in enumerate(items)]
        if parsed:
            hooks[event] = parsed
    return hooks


def _hook(event: HookEvent, item: Any, where: str) -> Hook:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{where}: a hook is an object with a command or url", field="hooks")
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        raise InvalidInput(f"{where}: unknown key {unknown[0]!r}", field="hooks")
    given = [k for k in ("command", "url", "url_sealed") if k in item]
    if len(given) != 1:
        raise InvalidInput(
            f"{where}: give either command (an argv list) or url (a webhook)", field="hooks"
        )
    timeout = _timeout(item.get("timeout", item.get("timeout_s")), where)
    try:
        on_error = OnError(item.get("on_error") or OnError.CONTINUE.value)
    except ValueError:
        raise InvalidInput(
            f"{where}: on_error {item.get('on_error')!r} is not continue or fail", field="hooks"
        ) from None
    if "command" in item:
        return Hook(event, _argv(item["command"], where), timeout_s=timeout, on_error=on_error)
    if "url" in item:
        return Hook(event, timeout_s=timeout, on_error=on_error, url=_url(item["url"], where))
    sealed, hint = item["url_sealed"], item.get("url_hint")
    if not isinstance(sealed, str) or not sealed or not isinstance(hint, str):
        raise InvalidInput(f"{where}: give url, the webhook's URL", field="hooks")
    return Hook(event, timeout_s=timeout, on_error=on_error, url_sealed=sealed, url_hint=hint)


_KEYS = {"command", "url", "url_sealed", "url_hint", "timeout", "timeout_s", "on_error"}


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or "\0" in value or len(value) > MAX_ARG_CHARS:
        raise InvalidInput(f"{where}: url must be a string of at most {MAX_ARG_CHARS} characters",
                           field="hooks")  # fmt: skip
    if value == MASKED:
        return value
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"{where}: url must be an http:// or https:// URL with a host", field="hooks"
        )
    return value.strip()


def url_hint(url: str) -> str:
    """What may be shown of a URL that may hold credentials: its scheme and host."""
    parts = urlsplit(url)
    host = (parts.hostname or "")[:60]
    return f"{parts.scheme}://{host}/…" if host else f"{parts.scheme}://…"


def _argv(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or len(value) > MAX_ARGS:
        raise InvalidInput(
            f"{where}: command must be a list of 1 to {MAX_ARGS} strings (an argv, no shell)",
            field="hooks",
        )
    for arg in value:
        if not isinstance(arg, str) or "\0" in arg or len(arg) > MAX_ARG_CHARS:
            raise InvalidInput(
                f"{where}: each argument is a string of at most {MAX_ARG_CHARS} characters "
                "without NUL",
                field="hooks",
            )
    if not value[0].startswith("/"):
        # No PATH look-up: the program a hook starts is the one the admin named.
        raise InvalidInput(
            f"{where}: the program {value[0]!r} must be an absolute path", field="hooks"
        )
    return tuple(value)


def _timeout(value: Any, where: str) -> int:
    if value is None:
        return DEFAULT_TIMEOUT_S
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"{where}: timeout must be seconds or a duration", field="hooks")
    seconds = value if isinstance(value, int) else parse_duration(value, what=f"{where} timeout")
    if seconds < 1 or seconds > MAX_TIMEOUT_S:
        raise InvalidInput(
            f"{where}: timeout must be from 1s to {MAX_TIMEOUT_S // 3600}h", field="hooks"
        )
    return seconds


def stored(hooks: Hooks) -> dict[str, Any]:
    """The hooks as the job row keeps them (and views show them)."""
    return {event.value: [h.as_dict() for h in items] for event, items in hooks.items()}


def has_commands(hooks: Hooks) -> bool:
    """Whether a hook starts a program (webhooks do not)."""
    return any(not h.is_webhook for items in hooks.values() for h in items)


def shown(raw: Any) -> dict[str, Any]:
    """The stored hooks as views show them: a webhook by its URL's hint only."""
    out: dict[str, Any] = {}
    for event, items in (raw or {}).items():
        out[event] = [
            {"url": h["url_hint"], "timeout_s": h["timeout_s"], "on_error": h["on_error"]}
            if "url_sealed" in h
            else dict(h)
            for h in items
        ]
    return out


@dataclass(frozen=True)
class HookContext:
    """What a hook is told about the run."""

    job: str
    run_id: int
    state: str  #: "running" before the work; the run's state after it
    error: str = ""  #: why the run (or its before hook) failed; "" when it did not
    bytes: int = 0
    files: int = 0
    deletes: int = 0

    def body(self, event: HookEvent) -> dict[str, Any]:
        """What a webhook is posted (JSON)."""
        return {
            "event": event.value,
            "job": self.job,
            "run_id": self.run_id,
            "state": self.state,
            "error": self.error,
            "bytes": self.bytes,
            "files": self.files,
            "deletes": self.deletes,
        }

    def env(self, event: HookEvent) -> dict[str, str]:
        return {
            "SYNCHUB_HOOK": event.value,
            "SYNCHUB_JOB": self.job,
            "SYNCHUB_RUN_ID": str(self.run_id),
            "SYNCHUB_STATE": self.state,
            "SYNCHUB_ERROR": self.error,
            "SYNCHUB_BYTES": str(self.bytes),
            "SYNCHUB_FILES": str(self.files),
            "SYNCHUB_DELETES": str(self.deletes),
        }
