"""Runs: their states, the allowed transitions and the names Celery users know."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class RunState(StrEnum):
    PENDING = "pending"  #: created, waiting to be handed to an executor
    QUEUED = "queued"  #: handed to an executor, not started
    RUNNING = "running"  #: claimed by a worker; the work has started
    SUCCEEDED = "succeeded"  #: the work finished without error
    FAILED = "failed"  #: the work finished with an error
    TIMED_OUT = "timed_out"  #: the runner's deadline passed; the work was stopped
    LOST = "lost"  #: heartbeat lapsed: the worker vanished
    CANCELLED = "cancelled"  #: stopped, or never started, on request
    SKIPPED = "skipped"  #: never ran: a missed fire time or the job was busy


class Trigger(StrEnum):
    SCHEDULE = "schedule"  #: a fire time of the job's schedule
    MANUAL = "manual"  #: `synchub job run` or the console
    API = "api"  #: a REST client
    RETRY = "retry"  #: the retry policy after a failed attempt
    WATCH = "watch"  #: a change in a watched folder
    CHAIN = "chain"  #: a job it runs after ended (`--after`); `chained_from` names the run


class SkipReason(StrEnum):
    MISSED = "missed"  #: the fire time passed while nothing was running
    OVERLAP = "overlap"  #: the job was already running
    HOOK = "hook"  #: a before hook exited 75 (its last line is the run's error)
    #: its job's run window was shut: a run already waits for it to open, or the run
    #: could only start once it had closed
    WINDOW = "window"
    #: its job was disabled while it waited for the job's run window to open
    DISABLED = "disabled"


class CancelReason(StrEnum):
    REQUESTED = "cancelled"  #: someone cancelled the run
    JOB_DELETED = "job_deleted"  #: its job was deleted before the run started


NEXT: dict[RunState, frozenset[RunState]] = {
    RunState.PENDING: frozenset({RunState.QUEUED, RunState.SKIPPED, RunState.CANCELLED}),
    RunState.QUEUED: frozenset(
        {RunState.RUNNING, RunState.PENDING, RunState.SKIPPED, RunState.CANCELLED}
    ),
    RunState.RUNNING: frozenset(
        {
            RunState.SUCCEEDED,
            RunState.FAILED,
            RunState.TIMED_OUT,
            RunState.LOST,
            RunState.CANCELLED,
            RunState.SKIPPED,  # a before hook said to skip it (exit 75)
        }
    ),
}

#: The states a run ends in: no arrow leaves them (a retry is a new run).
TERMINAL: frozenset[RunState] = frozenset(s for s in RunState if not NEXT.get(s))
#: Waiting to start: not handed to an executor yet, or handed over and not claimed.
WAITING: frozenset[RunState] = frozenset({RunState.PENDING, RunState.QUEUED})
#: Not ended: waiting or running.
UNFINISHED: frozenset[RunState] = frozenset(RunState) - TERMINAL

#: Log levels (rclone's, and syslog's two above critical), least severe first.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def severe_enough(level: str, minimum: str) -> bool:
    """Whether a line of `level` is at `minimum` or more severe; a level not listed
    counts as info (what a plain line of output is)."""
    rank = {name: i for i, name in enumerate(LOG_LEVELS)}
    return rank.get(level, rank["info"]) >= rank[minimum]


#: Terminal states after which the retry policy may create another attempt.
RETRYABLE: frozenset[RunState] = frozenset({RunState.FAILED, RunState.TIMED_OUT, RunState.LOST})


_SAFETY_STOP = "a data-safety stop waits for a person to look (see the error)"

#: Why a run that failed with this `error_class` gets no retry: the errors a retry
#: cannot fix (the permanent ones of the engines and the data-safety stops).
WHY_NOT_RETRIED: dict[str, str] = {
    "not_found": "a missing folder or file does not come back by retrying; "
    "fix the path, then run the job",
    "usage": "rclone refused its arguments; retrying would not change them",
    "fatal": "rclone reported a fatal error; retrying will not help",
    "transfer_limit": "the --max-transfer limit was reached",
    "no_transfer": "--error-on-no-transfer: a retry would find nothing new either",
    "config": "the job or its remotes must be fixed first",
    "empty_source": _SAFETY_STOP,
    "delete_guard": _SAFETY_STOP,
    "source_missing": _SAFETY_STOP,
    "marker_missing": _SAFETY_STOP,
    "window_closed": "the job's run window closed; its next run picks up where this one stopped",
}


def not_retried_note(error_class: str | None) -> str:
    """The `next_step` of a run whose error a retry cannot fix."""
    why = WHY_NOT_RETRIED.get(error_class or "", "retrying cannot fix this error")
    return f"not retried: {why}"


def can_move(current: RunState, target: RunState) -> bool:
    """True when a run may move from `current` to `target` (docs/architecture.md)."""
    return target in NEXT.get(current, frozenset())


def sources_of(target: RunState) -> frozenset[RunState]:
    """Every state that may move to `target`."""
    return frozenset(s for s, nxt in NEXT.items() if target in nxt)


def celery_state(state: RunState, *, retry_scheduled: bool = False) -> str:
    """The name a Celery user knows for `state`.

    `retry_scheduled` marks a failed attempt whose retry is already waiting.
    """
    if retry_scheduled and state in RETRYABLE:
        return "RETRY"
    return {
        RunState.PENDING: "PENDING",
        RunState.QUEUED: "PENDING",
        RunState.RUNNING: "STARTED",
        RunState.SUCCEEDED: "SUCCESS",
        RunState.FAILED: "FAILURE",
        RunState.TIMED_OUT: "FAILURE",
        RunState.LOST: "FAILURE",
        RunState.CANCELLED: "REVOKED",
        RunState.SKIPPED: "REVOKED",
    }[state]


@dataclass(frozen=True)
class RunStats:
    """Final (or current) figures of a run."""

    bytes: int = 0  #: bytes transferred
    files: int = 0  #: files transferred
    checks: int = 0  #: files checked
    deletes: int = 0  #: files deleted
    renames: int = 0  #: files renamed or moved server-side
    errors: int = 0  #: errors counted by the engine
    elapsed_s: float = 0.0  #: seconds the work took
    speed_bps: float = 0.0  #: average bytes per second

    def as_dict(self) -> dict[str, float | int]:
        return {
            "bytes": self.bytes,
            "files": self.files,
            "checks": self.checks,
            "deletes": self.deletes,
            "renames": self.renames,
            "errors": self.errors,
            "elapsed_s": self.elapsed_s,
            "speed_bps": self.speed_bps,
        }


@dataclass(frozen=True)
class Progress:
    """A live snapshot of a running run, written about once a second."""

    bytes: int = 0  #: bytes transferred so far
    total_bytes: int = 0  #: bytes to transfer, as far as known
    transfers: int = 0  #: files transferred so far
    total_transfers: int = 0  #: files to transfer, as far as known
    checks: int = 0  #: files checked so far
    total_checks: int = 0  #: files to check, as far as known
    deletes: int = 0  #: files deleted so far
    renames: int = 0  #: renames so far
    errors: int = 0  #: errors so far
    speed_bps: float = 0.0  #: current speed
    eta_s: float | None = None  #: seconds left, None while unknown
    elapsed_s: float = 0.0  #: seconds since the work started
    scanning: bool = False  #: totals still grow: the engine is still listing
    transferring: tuple[dict[str, object], ...] = field(default_factory=tuple)  #: files in flight

    def as_dict(self) -> dict[str, object]:
        return {
            "bytes": self.bytes,
            "total_bytes": self.total_bytes,
            "transfers": self.transfers,
            "total_transfers": self.total_transfers,
            "checks": self.checks,
            "total_checks": self.total_checks,
            "deletes": self.deletes,
            "renames": self.renames,
            "errors": self.errors,
            "speed_bps": self.speed_bps,
            "eta_s": self.eta_s,
            "elapsed_s": self.elapsed_s,
            "scanning": self.scanning,
            "transferring": list(self.transferring),
        }


class FileAction(StrEnum):
    COPIED = "copied"  #: a new file at the destination
    REPLACED = "replaced"  #: an existing file overwritten
    DELETED = "deleted"  #: removed from the destination (or the source, for move)
    MOVED = "moved"  #: moved or renamed
    FAILED = "failed"  #: the engine reported an error for this file
    WOULD_COPY = "would_copy"  #: a dry run, or a stopped run: would be copied (new)
    WOULD_REPLACE = "would_replace"  #: would overwrite the destination's file
    WOULD_DELETE = "would_delete"  #: would be deleted (nothing was)
    WOULD_MOVE = "would_move"  #: would be moved or renamed


@dataclass(frozen=True)
class FileChange:
    """One row of a run's change report."""

    path: str  #: the object's path, relative to the remote root the engine used
    action: FileAction  #: what happened to it
    size: int | None = None  #: bytes, when known
    error: str | None = None  #: the engine's message, for FAILED
    #: where the version this run deleted or overwrote was kept, when its job keeps them
    kept_at: str | None = None
