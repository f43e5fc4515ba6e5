"""Runs that wait for their job's run window to open (core.windows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from synchub.core.runs import RunState, Trigger
from synchub.core.windows import keeps_to, start_at
from synchub.store.tables import JobRow, RunRow


def not_before(job: JobRow, trigger: str, at: datetime) -> datetime:
    """When a new run of `job` due at `at` may start: `at`, or when the job's window
    next opens for a run that keeps to it (every run but those asked for)."""
    if not keeps_to(job.windows, trigger) or job.windows_tz is None:
        return at
    return start_at(job.windows, job.windows_tz, at)


def waits_for(session: Session, job_id: int, opens: datetime) -> bool:
    """Whether a fire time of the job waited for its window to open at `opens` and has
    not started yet: another fire time for that opening adds nothing to it."""
    found = select(RunRow.id).where(
        RunRow.job_id == job_id,
        RunRow.trigger == Trigger.SCHEDULE.value,
        RunRow.state.in_([RunState.PENDING.value, RunState.QUEUED.value]),
        RunRow.not_before == opens,
        RunRow.scheduled_for < opens,
    )
    return session.scalars(found.limit(1)).first() is not None


def rewait(session: Session, job: JobRow, *, now: datetime) -> int:
    """After the job's windows changed: its scheduled runs still pending start when the
    new windows let them (at their fire time, or now, at the earliest); how many moved."""
    pending = session.scalars(
        select(RunRow).where(
            RunRow.job_id == job.id,
            RunRow.trigger == Trigger.SCHEDULE.value,
            RunRow.state == RunState.PENDING.value,
        )
    ).all()
    moved = 0
    for run in pending:
        due = max(now, run.scheduled_for or now)
        wanted = not_before(job, Trigger.SCHEDULE.value, due)
        if run.not_before != wanted:
            run.not_before = wanted
            moved += 1
    return moved


def withdraw_waiting(session: Session, job_id: int, *, now: datetime, reason: str) -> list[int]:
    """End as SKIPPED (`reason`) the job's scheduled and watched-folder runs that wait
    for its window to open; return their ids. For a job disabled: it fires nothing
    more, and what it fired must not start at the opening. Retries and chained runs
    finish what ran before and still wait. One conditional update: a run dispatched
    meanwhile goes on."""
    result = session.execute(
        update(RunRow)
        .where(
            RunRow.job_id == job_id,
            RunRow.trigger.in_([Trigger.SCHEDULE.value, Trigger.WATCH.value]),
            RunRow.state == RunState.PENDING.value,
            RunRow.not_before > now,
        )
        .values(state=RunState.SKIPPED.value, finished_at=now, reason=reason)
        .returning(RunRow.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars())
