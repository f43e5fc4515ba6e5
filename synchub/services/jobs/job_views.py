"""What the jobs service answers: a job's view and its parts, what an edit or a removal
did, what a schedule tried out would do. Frozen: callers read them, mypy checks how.
`as_dict` gives the JSON document the API, `--json` and the audit events show."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from synchub.core.chains import ChainOn


@dataclass(frozen=True)
class ScheduleView:
    kind: str  #: none, cron or interval (core.schedules.ScheduleKind)
    cron: str | None
    tz: str
    every_s: int | None
    anchor: str | None  #: ISO 8601; where an interval counts from
    description: str  #: e.g. "At 02:00 (Europe/Berlin)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cron": self.cron,
            "tz": self.tz,
            "every_s": self.every_s,
            "anchor": self.anchor,
            "description": self.description,
        }


@dataclass(frozen=True)
class ChainLink:
    job: str  #: the other job
    on: ChainOn  #: the upstream outcome that starts a run

    def as_dict(self) -> dict[str, Any]:
        return {"job": self.job, "on": self.on.value}


@dataclass(frozen=True)
class HookView:
    """A hook as views show it: a command, or a webhook by its URL's hint only."""

    command: list[str] | None  #: the program and its arguments; None for a webhook
    url: str | None  #: a webhook's URL hint (scheme://host/…); None for a command
    timeout_s: int
    on_error: str  #: continue or fail

    def as_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = (
            {"command": list(self.command)} if self.command is not None else {"url": self.url}
        )
        return {**head, "timeout_s": self.timeout_s, "on_error": self.on_error}


@dataclass(frozen=True)
class JobView:
    """A job as the services show it. Fields in the order the API shows them."""

    id: int
    name: str
    kind: str  #: rclone, command, or a plug-in's
    #: the kind's own parameters (each kind has its own keys), env values masked
    params: dict[str, Any]
    schedule: ScheduleView
    misfire: str
    queue: str
    retries: int
    retry_delay_s: int
    timeout_s: int | None
    stale_after_s: int | None  #: None: derived from the schedule
    long_after_s: int | None  #: None: from its successful runs
    overlap: str
    enabled: bool
    tags: list[str]
    watch: bool
    keep_runs: str | None  #: its own rule ("30d", "500"); None: the server's
    keep_logs: str | None  #: "14d"; None: the server's
    windows: list[str]  #: the hours its automatic runs may run; []: any hour
    windows_tz: str | None  #: the zone `windows` are read in; None without windows
    max_depth: int | None  #: rclone's --max-depth; None for other kinds or no limit
    delete_guard: str | None  #: sync/bisync: "50%", a number of files, "off"
    require_marker: str | None
    check_access: bool | None  #: bisync only
    keep_deleted: str | None
    watch_problem: str | None  #: why its folder is not watched now
    muted_until: str | None  #: ISO 8601; None when not muted (or the mute ended)
    hooks: dict[str, list[HookView]]  #: by event
    after: list[ChainLink]  #: the jobs it runs after
    chained_by: list[ChainLink]  #: the jobs that run after it (their own `after`)
    next_fire_at: str | None  #: ISO 8601, in the schedule's zone
    created_at: str
    updated_at: str

    def as_dict(self) -> dict[str, Any]:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown.update(
            params=dict(self.params),
            schedule=self.schedule.as_dict(),
            tags=list(self.tags),
            windows=list(self.windows),
            hooks={event: [h.as_dict() for h in items] for event, items in self.hooks.items()},
            after=[link.as_dict() for link in self.after],
            chained_by=[link.as_dict() for link in self.chained_by],
        )
        return shown


@dataclass(frozen=True)
class JobBrief:
    id: int
    name: str
    scheduled: bool  #: it has a cron or interval schedule
    next_fire_at: str | None  #: ISO 8601


@dataclass(frozen=True)
class Edited:
    """What an edit did: the job as it is now, and the fields whose value changed
    (`params` keys as `params.KEY`); none when the edit changed nothing."""

    view: JobView
    changed: list[str]


@dataclass(frozen=True)
class Removed:
    """What removing a job did to its runs."""

    keep_history: bool
    runs_cancelled: list[int]  #: its waiting runs, cancelled
    runs_kept: int  #: kept to read (keep_history)
    runs_deleted: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "keep_history": self.keep_history,
            "runs_cancelled": list(self.runs_cancelled),
            "runs_kept": self.runs_kept,
            "runs_deleted": self.runs_deleted,
        }


@dataclass(frozen=True)
class LastRun:
    """A job's newest run that started or ended, in brief."""

    id: int
    state: str
    attempt: int
    dry_run: bool
    at: str  #: ISO 8601: when it ended (started, while it runs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "attempt": self.attempt,
            "dry_run": self.dry_run,
            "at": self.at,
        }


@dataclass(frozen=True)
class ScheduleValid:
    """A schedule tried out: valid, with its next fire times."""

    kind: str  #: cron or interval
    tz: str
    description: str
    next: list[str]  #: ISO 8601, in the schedule's zone
    valid: Literal[True] = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": True,
            "kind": self.kind,
            "tz": self.tz,
            "description": self.description,
            "next": list(self.next),
        }


@dataclass(frozen=True)
class ScheduleInvalid:
    """A schedule tried out: not valid, and why."""

    error: str
    field: Literal["cron", "every", "tz"]  #: the input at fault
    part: str | None  #: the cron field at fault, e.g. "minute"
    valid: Literal[False] = False

    def as_dict(self) -> dict[str, Any]:
        return {"valid": False, "error": self.error, "field": self.field, "part": self.part}


ScheduleChecked = ScheduleValid | ScheduleInvalid
