"""What the runs did over time, for charts: runs per day by outcome with the bytes
moved (the dashboard), and a job's last runs with their duration and bytes (the job
page). Each answer is one query and is ready to be sent as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from synchub.core.runs import RETRYABLE, RunState
from synchub.store import activity as activity_store
from synchub.store.db import reading

if TYPE_CHECKING:
    from synchub.services.context import Services

#: The outcomes a chart tells apart, in the order they are stacked.
OUTCOMES = ("succeeded", "failed", "cancelled")
#: The longest span the dashboard's chart asks for, in days.
MAX_DAYS = 90
#: How many of a job's runs its history chart shows.
HISTORY_RUNS = 100


def outcome_of(state: str) -> str:
    """The chart's word for an ended run's state: failed, timed out and lost runs
    all failed; skipped ones count with the cancelled."""
    run_state = RunState(state)
    if run_state is RunState.SUCCEEDED:
        return "succeeded"
    return "failed" if run_state in RETRYABLE else "cancelled"


class ActivityService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def per_day(self, days: int = 30) -> list[dict[str, Any]]:
        """The last `days` UTC days, oldest first and today last, each with the runs
        that ended on it by outcome and the bytes they moved:
        {"day": "2025-06-02", "succeeded", "failed", "cancelled", "bytes"}. Every
        day is there, with zeros when nothing ended."""
        days = max(1, min(days, MAX_DAYS))
        today = self.svc.clock.now().astimezone(UTC).date()
        first = today - timedelta(days=days - 1)
        since = datetime.combine(first, time(), tzinfo=UTC)
        with reading(self.svc.sessions) as session:
            rows = activity_store.ended_per_day(session, since)
        table = {
            first + timedelta(days=i): dict.fromkeys((*OUTCOMES, "bytes"), 0) for i in range(days)
        }
        for day, state, runs, moved in rows:
            if day in table:
                table[day][outcome_of(state)] += runs
                table[day]["bytes"] += moved
        return [{"day": day.isoformat(), **figures} for day, figures in table.items()]

    def job_history(self, name: str, limit: int = HISTORY_RUNS) -> list[dict[str, Any]]:
        """The job's last `limit` ended runs, oldest first: {"id", "state", "outcome",
        "dry_run", "finished_at" (ISO 8601), "duration_s" (None if it never started),
        "bytes"}. JobNotFound for an unknown name."""
        job_name = self.svc.jobs.show(name)["name"]
        with reading(self.svc.sessions) as session:
            rows = activity_store.ended_of_job(session, job_name, limit)
        return [
            {
                "id": row.id,
                "state": row.state,
                "outcome": outcome_of(row.state),
                "dry_run": row.dry_run,
                "finished_at": row.finished_at.isoformat(),
                "duration_s": (
                    round((row.finished_at - row.started_at).total_seconds(), 3)
                    if row.started_at is not None
                    else None
                ),
                "bytes": int(row.bytes or 0),
            }
            for row in reversed(rows)
        ]
