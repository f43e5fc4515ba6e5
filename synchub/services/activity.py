"""What the runs did over time, for charts: runs per day by outcome with the bytes
moved (the dashboard), and a job's last runs with their duration and bytes (the job
page). Each answer is one query; `as_dict()` gives the JSON the charts draw.

The days are counted from every run that ended in them, a million in a busy month,
so each process keeps the figures of the days and hours that are over (an hour
after their end, for the runs still being written then) and asks the database only
for the others: usually the last hour or two, by ix_runs_finished_at. Deleting runs
(pruning) makes it count again (`forget`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
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
HOUR = timedelta(hours=1)
#: runs by outcome, and the bytes moved
Figures = dict[str, int]


def outcome_of(state: str) -> str:
    """The chart's word for an ended run's state: failed, timed out and lost runs
    all failed; skipped ones count with the cancelled."""
    run_state = RunState(state)
    if run_state is RunState.SUCCEEDED:
        return "succeeded"
    return "failed" if run_state in RETRYABLE else "cancelled"


@dataclass
class _Closed:
    """The figures of the days that are over, which no longer change unless runs are
    deleted, and of the hours that are over in the days that are not."""

    days: dict[date, Figures] = field(default_factory=dict)
    hours: dict[datetime, Figures] = field(default_factory=dict)


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
        self._closed = _Closed()

    def per_day(self, days: int = 30) -> list[DayActivity]:
        """The last `days` UTC days, oldest first and today last, each with the runs
        that ended on it by outcome and the bytes they moved. Every day is there, with
        zeros when nothing ended."""
        days = max(1, min(days, MAX_DAYS))
        now = self.svc.clock.now().astimezone(UTC)
        wanted = [now.date() - timedelta(days=days - 1 - i) for i in range(days)]
        closed = self._closed  # forgotten meanwhile, it keeps what it counted to itself
        open_days = [day for day in wanted if day not in closed.days]
        hours = self._count(closed, open_days, now)
        figures = {}
        for day in open_days:
            figures[day] = _sum(hours.get(hour) or _zero() for hour in _hours_of(day))
            if _start_of(day + timedelta(days=1)) + SETTLING <= now:
                closed.days[day] = figures[day]
                for hour in _hours_of(day):
                    closed.hours.pop(hour, None)
        return [
            DayActivity(day.isoformat(), **(figures.get(day) or closed.days[day])) for day in wanted
        ]

    def forget(self) -> None:
        """Count every day again: runs that ended in them were deleted."""
        self._closed = _Closed()

    def _count(self, closed: _Closed, days: list[date], now: datetime) -> dict[datetime, Figures]:
        """The figures of each hour of `days` (ascending): those over at `now` from
        `closed`, the others from one query from the first of them on."""
        counted = {h: _zero() for day in days for h in _hours_of(day) if h not in closed.hours}
        if counted:
            with reading(self.svc.sessions) as session:
                rows = activity_store.ended_per_hour(session, min(counted))
            for hour, state, runs, moved in rows:
                if hour in counted:
                    counted[hour][outcome_of(state)] += runs
                    counted[hour]["bytes"] += moved
            for hour, figures in counted.items():
                if hour + HOUR + SETTLING <= now:
                    closed.hours[hour] = figures
        return closed.hours | counted

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


def _zero() -> Figures:
    return dict.fromkeys((*OUTCOMES, "bytes"), 0)


def _sum(parts: Iterable[Figures]) -> Figures:
    total = _zero()
    for part in parts:
        for key, value in part.items():
            total[key] += value
    return total


def _hours_of(day: date) -> list[datetime]:
    """The starts of `day`'s hours."""
    start = _start_of(day)
    return [start + i * HOUR for i in range(24)]


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
