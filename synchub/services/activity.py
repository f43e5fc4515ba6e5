"""What the runs did over time, for charts: runs per day by outcome with the bytes
moved (the dashboard), and a job's last runs with their duration and bytes (the job
page). Each answer is one query; `as_dict()` gives the JSON the charts draw.

The days are counted from every run that ended in them, a million in a busy month,
so each process keeps the figures of the days that are over (an hour after their
end, for the runs still being written then) and asks the database only for the
others: usually today's, by ix_runs_finished_at."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
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
#: How long after a day's end its figures may still change: a run that ended just
#: before midnight may be written just after it.
SETTLING = timedelta(hours=1)


def outcome_of(state: str) -> str:
    """The chart's word for an ended run's state: failed, timed out and lost runs
    all failed; skipped ones count with the cancelled."""
    run_state = RunState(state)
    if run_state is RunState.SUCCEEDED:
        return "succeeded"
    return "failed" if run_state in RETRYABLE else "cancelled"


@dataclass(frozen=True)
class DayActivity:
    """The runs that ended on one UTC day, by outcome, and the bytes they moved."""

    day: str  #: ISO 8601, "2025-06-02"
    succeeded: int
    failed: int
    cancelled: int  #: cancelled or skipped
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "bytes": self.bytes,
        }


@dataclass(frozen=True)
class EndedRun:
    """One ended run of a job's history chart."""

    id: int
    state: str
    outcome: str  #: one of OUTCOMES
    dry_run: bool
    finished_at: str  #: ISO 8601
    duration_s: float | None  #: None when it never started
    bytes: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "outcome": self.outcome,
            "dry_run": self.dry_run,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
            "bytes": self.bytes,
        }


class ActivityService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        #: the figures of the days that are over, which no longer change
        self._closed: dict[date, dict[str, int]] = {}

    def per_day(self, days: int = 30) -> list[DayActivity]:
        """The last `days` UTC days, oldest first and today last, each with the runs
        that ended on it by outcome and the bytes they moved. Every day is there, with
        zeros when nothing ended."""
        days = max(1, min(days, MAX_DAYS))
        now = self.svc.clock.now().astimezone(UTC)
        wanted = [now.date() - timedelta(days=days - 1 - i) for i in range(days)]
        counted = self._count([day for day in wanted if day not in self._closed])
        for day, figures in counted.items():
            if _start_of(day + timedelta(days=1)) + SETTLING <= now:
                self._closed[day] = figures
        return [
            DayActivity(day.isoformat(), **(counted.get(day) or self._closed[day]))
            for day in wanted
        ]

    def _count(self, days: list[date]) -> dict[date, dict[str, int]]:
        """The figures of `days` (ascending), from one query from the first on."""
        if not days:
            return {}
        with reading(self.svc.sessions) as session:
            rows = activity_store.ended_per_day(session, _start_of(days[0]))
        counted = {day: dict.fromkeys((*OUTCOMES, "bytes"), 0) for day in days}
        for day, state, runs, moved in rows:
            if day in counted:
                counted[day][outcome_of(state)] += runs
                counted[day]["bytes"] += moved
        return counted

    def job_history(self, name: str, limit: int = HISTORY_RUNS) -> list[EndedRun]:
        """The job's last `limit` ended runs, oldest first. JobNotFound for an unknown
        name."""
        job_name = self.svc.jobs.show(name).name
        with reading(self.svc.sessions) as session:
            rows = activity_store.ended_of_job(session, job_name, limit)
        return [
            EndedRun(
                id=row.id,
                state=row.state,
                outcome=outcome_of(row.state),
                dry_run=row.dry_run,
                finished_at=row.finished_at.isoformat(),
                duration_s=(
                    round((row.finished_at - row.started_at).total_seconds(), 3)
                    if row.started_at is not None
                    else None
                ),
                bytes=int(row.bytes or 0),
            )
            for row in reversed(rows)
        ]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
