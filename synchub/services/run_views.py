"""A run, its log lines and its change report as the services show them, and the
instants a caller may filter them by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from synchub.core.clock import iso
from synchub.core.errors import InvalidInput
from synchub.core.runs import RunState, RunStats, Trigger, celery_state
from synchub.store.tables import RunFileRow, RunLogRow, RunRow

#: The figures every run view shows, 0 when its run recorded none.
STAT_KEYS = ("bytes", "files", "checks", "deletes", "renames", "errors", "elapsed_s", "speed_bps")


@dataclass(frozen=True)
class RunView:
    """A run; its times in ISO 8601 with their offset."""

    id: int
    job: str  #: the job's name when the run was created
    job_deleted: bool  #: its job was deleted and the run kept as history
    state: RunState
    celery_state: str  #: the same state under the name Celery users know
    trigger: Trigger
    reason: str | None  #: why it was skipped or cancelled
    scheduled_for: str | None  #: the fire time it serves
    created_at: str
    queued_at: str | None
    started_at: str | None
    finished_at: str | None
    heartbeat_at: str | None
    not_before: str  #: not dispatched earlier (a retry waits here)
    attempt: int
    retry_of: int | None
    chained_from: int | None
    queue: str
    worker: str | None
    exit_code: int | None
    error_class: str | None
    error: str | None
    next_step: str | None
    stats: RunStats  #: zeros when the run recorded none
    progress: dict[str, Any] | None  #: rclone's live snapshot while it runs
    log_dropped_lines: int
    files_dropped: int
    logs_pruned: bool
    only_path: str | None
    dry_run: bool
    allow_deletes: bool
    resync: bool
    #: the change report's rows by action: given by RunService.show only
    files_summary: dict[str, int] | None = None

    @property
    def ended(self) -> bool:
        return self.finished_at is not None

    def as_dict(self) -> dict[str, Any]:
        """The run as JSON would have it: `files_summary` only when it was counted."""
        shown = {name: getattr(self, name) for name in _RUN_FIELDS}
        shown["state"], shown["trigger"] = self.state.value, self.trigger.value
        shown["stats"] = self.stats.as_dict()
        if self.files_summary is not None:
            shown["files_summary"] = self.files_summary
        return shown


_RUN_FIELDS = tuple(name for name in RunView.__dataclass_fields__ if name != "files_summary")


def run_view(run: RunRow, retry_scheduled: bool) -> RunView:
    state = RunState(run.state)
    # Stored stats keep their own numbers (an int 0 stays an int in the JSON).
    stats = dict.fromkeys(STAT_KEYS, 0) | (run.stats or {})
    return RunView(
        id=run.id,
        job=run.job_name,
        job_deleted=run.job_id is None,
        state=state,
        celery_state=celery_state(state, retry_scheduled=retry_scheduled),
        trigger=Trigger(run.trigger),
        reason=run.reason,
        scheduled_for=iso(run.scheduled_for),
        created_at=run.created_at.isoformat(),
        queued_at=iso(run.queued_at),
        started_at=iso(run.started_at),
        finished_at=iso(run.finished_at),
        heartbeat_at=iso(run.heartbeat_at),
        not_before=run.not_before.isoformat(),
        attempt=run.attempt,
        retry_of=run.retry_of,
        chained_from=run.chained_from,
        queue=run.queue,
        worker=run.worker,
        exit_code=run.exit_code,
        error_class=run.error_class,
        error=run.error,
        next_step=run.next_step,
        stats=RunStats(**{key: stats[key] for key in STAT_KEYS}),
        progress=run.progress,
        log_dropped_lines=run.log_dropped_lines,
        files_dropped=run.files_dropped,
        logs_pruned=run.logs_pruned,
        only_path=run.only_path,
        dry_run=run.dry_run,
        allow_deletes=run.allow_deletes,
        resync=run.resync,
    )


@dataclass(frozen=True)
class LogLine:
    seq: int  #: a gap in seq marks lines the size cap dropped
    at: str  #: ISO 8601
    level: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "level": self.level, "message": self.message}


def log_view(line: RunLogRow) -> LogLine:
    return LogLine(seq=line.seq, at=line.at.isoformat(), level=line.level, message=line.message)


@dataclass(frozen=True)
class FileChange:
    """A row of a run's change report."""

    row: int  #: its place in the report: a page continues after the last one's
    path: str
    action: str  #: a FileAction's value
    size: int | None
    error: str | None
    at: str  #: ISO 8601
    kept_at: str | None  #: where a job keeping versions put the old one

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON has it: its place in the report left out."""
        return {
            "path": self.path,
            "action": self.action,
            "size": self.size,
            "error": self.error,
            "at": self.at,
            "kept_at": self.kept_at,
        }


def file_view(row: RunFileRow) -> FileChange:
    return FileChange(
        row=row.id,
        path=row.path,
        action=row.action,
        size=row.size,
        error=row.error,
        at=row.at.isoformat(),
        kept_at=row.kept_at,
    )


@dataclass(frozen=True)
class RunEnded:
    """What `RunService.follow` yields last: the run as it ended."""

    run: RunView


def check_instant(value: datetime | None, what: str) -> datetime | None:
    """`value` in UTC; InvalidInput when it has no zone or lies outside 1970-9000."""
    if value is None:
        return None
    if value.utcoffset() is None:
        raise InvalidInput(f"Bad {what}: give a time zone, e.g. 2025-06-01T00:00:00Z")
    if not _EARLIEST <= value <= _LATEST:
        raise InvalidInput(f"Bad {what}: use a time between 1970 and 9000")
    return value.astimezone(UTC)


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SchedulerState:
    """Who leads the schedulers and how far behind dispatch is, from the database."""

    leader: str | None  #: the process holding the scheduler lease
    lease_expires_at: str | None  #: ISO 8601
    leader_alive: bool  #: the lease expires after now
    due_not_dispatched: int  #: pending runs whose time has come
    pending: int
    queued: int
    running: int


@dataclass(frozen=True)
class Histogram:
    counts: list[int]  #: cumulative, one per bucket
    total: float  #: the sum of the values
    count: int


@dataclass(frozen=True)
class RunFigures:
    """Aggregates for monitoring, over every process's runs."""

    totals: list[tuple[str, str, int, int]]  #: (job, state, runs, bytes)
    duration: Histogram  #: of runs' durations, in seconds
    lateness: Histogram  #: of scheduled runs' start after their fire time
    queues: list[tuple[str, int]]  #: (queue, waiting runs)
    last_success: list[tuple[str, datetime]]  #: (job, when its last success ended)
