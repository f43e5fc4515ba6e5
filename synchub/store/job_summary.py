"""Each job's summary of its runs (`job_summaries`): kept by the database's triggers
as runs end (migration 0023); read here, and its schedule's staleness bound worked
out here, where the schedule math is at hand."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select, update
from sqlalchemy.orm import Session

from synchub.core.runs import RETRYABLE, RunState
from synchub.core.schedules import Schedule, ScheduleKind
from synchub.core.staleness import stale_after_bounds
from synchub.store.tables import JobRow, JobSummaryRow, RunRow

_FAILED = [s.value for s in RETRYABLE]


@dataclass(frozen=True)
class Summary:
    """A job's summary as the overview reads it."""

    job_id: int
    last_id: int | None  #: its newest ended run that was not skipped
    last_state: str | None  #: that run's state
    success_at: datetime | None  #: when its newest success ended
    failing_since: datetime | None  #: when the first failure after that success ended


@dataclass(frozen=True)
class Unsure:
    """An enabled job that may be stale or not, by the exact rule only: what deciding
    needs."""

    job_id: int
    name: str
    created_at: datetime
    schedule: Schedule
    last_id: int | None
    last_state: str | None
    success_at: datetime | None


@dataclass(frozen=True)
class Needing:
    """An enabled job that needs attention, decided by its summary alone."""

    job_id: int
    name: str
    failing: bool
    #: when it last succeeded (or was made) if it is stale, else None
    stale_since: datetime | None


def of_jobs(session: Session, job_ids: Iterable[int] | None = None) -> dict[int, Summary]:
    """The summaries of these jobs (of every job: None), by job id."""
    query = select(
        JobSummaryRow.job_id,
        JobSummaryRow.last_id,
        JobSummaryRow.last_state,
        JobSummaryRow.success_at,
        JobSummaryRow.failing_since,
    )
    if job_ids is not None:
        ids = list(job_ids)
        if not ids:
            return {}
        query = query.where(JobSummaryRow.job_id.in_(ids))
    return {row.job_id: Summary(*row) for row in session.execute(query)}


def newest_running(session: Session, job_ids: Iterable[int] | None = None) -> dict[int, int]:
    """The newest running run of each job that has one (of these jobs, or of all),
    by job id: a run that started is a job's newest run before it ends, and the
    summary only knows ended runs. Found through the runs' state index: as many as
    run now, not as many as there are jobs."""
    query = (
        select(RunRow.job_id, func.max(RunRow.id))
        .where(RunRow.state == RunState.RUNNING.value, RunRow.job_id.is_not(None))
        .group_by(RunRow.job_id)
    )
    if job_ids is not None:
        ids = list(job_ids)
        if not ids:
            return {}
        query = query.where(RunRow.job_id.in_(ids))
    return {job_id: run_id for job_id, run_id in session.execute(query) if job_id is not None}


def superseded(session: Session, running: dict[int, int] | None = None) -> set[int]:
    """The jobs with a run running that is newer than their last ended run: whatever
    that run's state, it is no longer their last (a failing job whose retry runs is
    not failing). As many as run now. `running`: `newest_running` of every job, when
    the caller read it already."""
    if running is None:
        running = newest_running(session)
    if not running:
        return set()
    rows = session.execute(
        select(JobSummaryRow.job_id, JobSummaryRow.last_id).where(
            JobSummaryRow.job_id.in_(list(running))
        )
    )
    last = {row.job_id: row.last_id for row in rows}
    return {job_id for job_id, run_id in running.items() if run_id > (last.get(job_id) or 0)}


def _failing(superseded: set[int]) -> ColumnElement[bool]:
    return and_(JobSummaryRow.last_state.in_(_FAILED), JobSummaryRow.job_id.not_in(superseded))


def _surely_stale(now: datetime) -> ColumnElement[bool]:
    return JobSummaryRow.surely_stale_from < now


def _unsure(now: datetime) -> ColumnElement[bool]:
    """Past the least its schedule allows, not past the most: the exact rule decides."""
    return and_(
        JobSummaryRow.stale_from.is_not(None),
        JobSummaryRow.stale_from <= now,
        or_(JobSummaryRow.surely_stale_from.is_(None), JobSummaryRow.surely_stale_from >= now),
    )


def _sure(now: datetime, superseded: set[int]) -> ColumnElement[bool]:
    """Failing, or stale whenever asked; not among the unsure (see `unsure`)."""
    return and_(
        JobRow.enabled.is_(True),
        not_(_unsure(now)),
        or_(_failing(superseded), _surely_stale(now)),
    )


def first_needing(
    session: Session, now: datetime, superseded: set[int], limit: int | None
) -> tuple[list[Needing], int, int]:
    """The first `limit` (None: all) enabled jobs that surely need attention (not
    counting the unsure): the failing first, then the longest stale (the earliest
    success), each by name within; how many there are, and how many of them fail.
    Index ranges of the summaries, counted and sorted in the database."""
    failing = _failing(superseded)
    surely = _surely_stale(now)
    since = func.coalesce(JobSummaryRow.success_at, JobRow.created_at)
    query = (
        select(
            JobRow.id,
            JobRow.name,
            failing,
            surely,
            since,
            func.count().over(),
            func.sum(case((failing, 1), else_=0)).over(),
        )
        .select_from(JobSummaryRow)
        .join(JobRow, JobRow.id == JobSummaryRow.job_id)
        .where(_sure(now, superseded))
        .order_by(
            case((failing, 0), else_=1),
            case((surely, 0), else_=1),
            case((surely, since)),
            JobRow.name,
        )
        .limit(limit)
    )
    rows = session.execute(query).all()
    first = [
        Needing(job_id, name, bool(fails), _as_utc(at) if stale else None)
        for job_id, name, fails, stale, at, _count, _failed in rows
    ]
    return first, int(rows[0][5]) if rows else 0, int(rows[0][6]) if rows else 0


def needing_ids(
    session: Session, now: datetime, superseded: set[int], *, failing: bool
) -> set[int]:
    """The enabled jobs that surely fail (`failing`), or are surely stale (not counting
    the unsure)."""
    which = _failing(superseded) if failing else and_(_surely_stale(now), not_(_unsure(now)))
    query = (
        select(JobSummaryRow.job_id)
        .join(JobRow, JobRow.id == JobSummaryRow.job_id)
        .where(JobRow.enabled.is_(True), which)
    )
    return set(session.scalars(query))


def unsure(session: Session, now: datetime) -> list[Unsure]:
    """The enabled jobs that may be stale at `now`, or not: their last success (or
    creation) is past the least their schedule allows and not past the most. For a
    schedule whose gaps are all alike (an interval, a daily time in UTC) the two are
    the same and none is unsure."""
    query = (
        select(
            JobRow.id,
            JobRow.name,
            JobRow.created_at,
            JobRow.schedule_kind,
            JobRow.cron,
            JobRow.tz,
            JobRow.every_s,
            JobRow.anchor_at,
            JobSummaryRow.last_id,
            JobSummaryRow.last_state,
            JobSummaryRow.success_at,
        )
        .select_from(JobSummaryRow)
        .join(JobRow, JobRow.id == JobSummaryRow.job_id)
        .where(_unsure(now), JobRow.enabled.is_(True))
    )
    return [
        Unsure(
            job_id,
            name,
            created_at,
            Schedule(ScheduleKind(kind), cron, tz, every_s, anchor),
            last_id,
            last_state,
            success_at,
        )
        for (
            job_id, name, created_at, kind, cron, tz, every_s, anchor, last_id, last_state,
            success_at,
        ) in session.execute(query)
    ]  # fmt: skip


def _as_utc(at: datetime) -> datetime:
    """A timestamp read through an expression (not a column): SQLite's comes naive."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def refine_stale_bounds(
    session: Session, now: datetime, job_ids: Iterable[int] | None = None
) -> int:
    """Work out the staleness bounds of each job's schedule (of these jobs, or of all)
    where the triggers left an hour and nothing in their place (a new job, a changed
    schedule); return how many were. The times are counted from the last success the
    row holds as it is written, in the statement: one recorded meanwhile is not missed."""
    query = (
        select(
            JobRow.id,
            JobRow.schedule_kind,
            JobRow.cron,
            JobRow.tz,
            JobRow.every_s,
            JobRow.anchor_at,
        )
        .select_from(JobSummaryRow)
        .join(JobRow, JobRow.id == JobSummaryRow.job_id)
        .where(JobSummaryRow.stale_min_s.is_(None), JobSummaryRow.stale_from.is_not(None))
    )
    if job_ids is not None:
        ids = list(job_ids)
        if not ids:
            return 0
        query = query.where(JobSummaryRow.job_id.in_(ids))
    bounds: dict[Schedule, tuple[timedelta, timedelta] | None] = {}
    changes = []
    for job_id, kind, cron, tz, every_s, anchor in session.execute(query):
        schedule = Schedule(ScheduleKind(kind), cron, tz, every_s, anchor)
        if schedule not in bounds:
            bounds[schedule] = stale_after_bounds(schedule, now)
        found = bounds[schedule]
        if found is not None:  # else it never fires again: never stale
            changes.append((job_id, int(found[0].total_seconds()), int(found[1].total_seconds())))
    made = select(JobRow.created_at).where(JobRow.id == JobSummaryRow.job_id).scalar_subquery()
    since = func.coalesce(JobSummaryRow.success_at, made)
    postgresql = session.get_bind().dialect.name == "postgresql"
    for job_id, least, most in changes:
        session.execute(
            update(JobSummaryRow)
            .where(JobSummaryRow.job_id == job_id, JobSummaryRow.stale_min_s.is_(None))
            .values(
                stale_min_s=least,
                stale_max_s=most,
                stale_from=_plus(since, least, postgresql),
                surely_stale_from=_plus(since, most, postgresql),
            )
        )
    return len(changes)


def _plus(at: ColumnElement[Any], seconds: int, postgresql: bool) -> ColumnElement[Any]:
    """SQL for `seconds` after `at`, as the triggers write it (migration 0023)."""
    if postgresql:
        return at + func.make_interval(0, 0, 0, 0, 0, 0, seconds)
    # SQLite keeps timestamps as text: this keeps their form, to the millisecond.
    return func.strftime("%Y-%m-%d %H:%M:%f", at, f"+{seconds} seconds")
