"""A run and its log lines as the services show them, and the instants a caller may
filter them by."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from synchub.core.clock import iso
from synchub.core.errors import InvalidInput
from synchub.core.runs import RunState, celery_state
from synchub.store.tables import RunLogRow, RunRow

#: The figures every run view shows, 0 when its run recorded none.
STAT_KEYS = ("bytes", "files", "checks", "deletes", "renames", "errors", "elapsed_s", "speed_bps")


def run_view(run: RunRow, retry_scheduled: bool) -> dict[str, Any]:
    state = RunState(run.state)
    stats = dict.fromkeys(STAT_KEYS, 0) | (run.stats or {})
    return {
        "id": run.id,
        "job": run.job_name,
        "job_deleted": run.job_id is None,
        "state": state.value,
        "celery_state": celery_state(state, retry_scheduled=retry_scheduled),
        "trigger": run.trigger,
        "reason": run.reason,
        "scheduled_for": iso(run.scheduled_for),
        "created_at": iso(run.created_at),
        "queued_at": iso(run.queued_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "heartbeat_at": iso(run.heartbeat_at),
        "not_before": iso(run.not_before),
        "attempt": run.attempt,
        "retry_of": run.retry_of,
        "chained_from": run.chained_from,
        "queue": run.queue,
        "worker": run.worker,
        "exit_code": run.exit_code,
        "error_class": run.error_class,
        "error": run.error,
        "next_step": run.next_step,
        "stats": stats,
        "progress": run.progress,
        "log_dropped_lines": run.log_dropped_lines,
        "files_dropped": run.files_dropped,
        "logs_pruned": run.logs_pruned,
        "only_path": run.only_path,
        "dry_run": run.dry_run,
        "allow_deletes": run.allow_deletes,
        "resync": run.resync,
    }


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


def log_view(line: RunLogRow) -> dict[str, Any]:
    return {
        "seq": line.seq,
        "at": line.at.isoformat(),
        "level": line.level,
        "message": line.message,
    }
