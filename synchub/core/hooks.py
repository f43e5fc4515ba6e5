"""Hooks: commands (argv lists, never a shell) around a job's runs.

When each event's hooks run, in this order:

1. `before`: before the work. Exit 75 (EX_TEMPFAIL, borgmatic's "soft failure")
   skips the run, recorded as skipped with the hook's last line as the reason.
   Another failure stops the run as failed when the hook's policy is `fail`.
2. `after`: after the work, whatever its outcome (or after a failed `before`).
3. `on_failure`: when the run is not succeeding at this point.
4. `finally`: last, always (also after a skip).

Every hook gets the run's context (SYNCHUB_JOB, SYNCHUB_RUN_ID, SYNCHUB_STATE,
SYNCHUB_ERROR, SYNCHUB_BYTES, SYNCHUB_FILES, SYNCHUB_DELETES, SYNCHUB_HOOK): in its
environment. Nothing else of synchub's environment: no secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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
    """One command: an argv run directly (no shell) with the run's context."""

    event: HookEvent
    argv: tuple[str, ...]  #: the program (an absolute path) and its arguments
    timeout_s: int = DEFAULT_TIMEOUT_S
    on_error: OnError = OnError.CONTINUE

    def label(self) -> str:
        """How the log names it: the event and the program."""
        return f"{self.event.value} hook {self.argv[0]}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": list(self.argv),
            "timeout_s": self.timeout_s,
            "on_error": self.on_error.value,
        }


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
        raise InvalidInput(f"{where}: a hook is an object with a command", field="hooks")
    unknown = sorted(set(item) - {"command", "timeout", "timeout_s", "on_error"})
    if unknown:
        raise InvalidInput(f"{where}: unknown key {unknown[0]!r}", field="hooks")
    if "command" not in item:
        raise InvalidInput(f"{where}: give command, an argv list", field="hooks")
    timeout = _timeout(item.get("timeout", item.get("timeout_s")), where)
    try:
        on_error = OnError(item.get("on_error") or OnError.CONTINUE.value)
    except ValueError:
        raise InvalidInput(
            f"{where}: on_error {item.get('on_error')!r} is not continue or fail", field="hooks"
        ) from None
    return Hook(event, argv=_argv(item["command"], where), timeout_s=timeout, on_error=on_error)


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
    return any(hooks.values())


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
