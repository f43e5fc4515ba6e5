"""Each job's summary of its runs (`job_summaries`): kept by the database's triggers
as runs end (migration 0023); read here, and its schedule's staleness bound worked
out here, where the schedule math is at hand."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from synchub.core.runs import RETRYABLE, RunState
from synchub.core.schedules import Schedule, ScheduleKind
from synchub.core.staleness import least_stale_after
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
class Candidate:
    """An enabled job that fails, or may be stale: what deciding which needs no more."""

    job_id: int
    name: str
    created_at: datetime
    schedule: Schedule
    last_id: int | None
    last_state: str | None
    success_at: datetime | None


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


def candidates(session: Session, now: datetime) -> list[Candidate]:
    """The enabled jobs whose newest ended run failed, timed out or was lost, and
    those that may be stale at `now` (`stale_from` passed): two index ranges of the
    summaries, as many rows as jobs need attention."""
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
        .join(JobRow, JobRow.id == JobSummaryRow.job_id)
        .where(
            or_(JobSummaryRow.last_state.in_(_FAILED), JobSummaryRow.stale_from <= now),
            JobRow.enabled.is_(True),
        )
    )
    return [
        Candidate(
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


def refine_stale_bounds(
    session: Session, now: datetime, job_ids: Iterable[int] | None = None
) -> int:
    """Work out the staleness bound of each job's schedule (of these jobs, or of all)
    where the triggers left one hour in its place (a new job, a changed schedule);
    return how many were. A success recorded meanwhile only makes `stale_from` early,
    which costs the overview a look, never a stale job missed."""
    query = (
        select(
            JobRow.id,
            JobRow.created_at,
            JobRow.schedule_kind,
            JobRow.cron,
            JobRow.tz,
            JobRow.every_s,
            JobRow.anchor_at,
            JobSummaryRow.success_at,
        )
        .join(JobRow, JobRow.id == JobSummaryRow.job_id)
        .where(JobSummaryRow.stale_min_s.is_(None), JobSummaryRow.stale_from.is_not(None))
    )
    if job_ids is not None:
        ids = list(job_ids)
        if not ids:
            return 0
        query = query.where(JobSummaryRow.job_id.in_(ids))
    bounds: dict[Schedule, timedelta | None] = {}
    changes = []
    for job_id, created_at, kind, cron, tz, every_s, anchor, success_at in session.execute(query):
        schedule = Schedule(ScheduleKind(kind), cron, tz, every_s, anchor)
        if schedule not in bounds:
            bounds[schedule] = least_stale_after(schedule, now)
        bound = bounds[schedule]
        if bound is None:  # it never fires again: nothing says how often it should succeed
            continue
        changes.append(
            {
                "id": job_id,
                "min_s": int(bound.total_seconds()),
                "from": (success_at or created_at) + bound,
            }
        )
    for change in changes:
        session.execute(
            update(JobSummaryRow)
            .where(JobSummaryRow.job_id == change["id"], JobSummaryRow.stale_min_s.is_(None))
            .values(stale_min_s=change["min_s"], stale_from=change["from"])
        )
    return len(changes)
