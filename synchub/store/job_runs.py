"""Each job's runs summed up: its last run, its last success, since when it fails,
whether it has runs waiting or running, when its last run ended."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from synchub.core.runs import RETRYABLE, UNFINISHED, WAITING, RunState
from synchub.store.tables import JobRow, RunRow

#: States of runs that did something (or were stopped doing it): a job's "last run".
_HAPPENED = [s.value for s in RunState if s not in WAITING and s is not RunState.SKIPPED]


def latest_of_jobs(session: Session, job_ids: Iterable[int] | None = None) -> dict[int, RunRow]:
    """The newest run of each job (of these, or of every job) that started or ended:
    not waiting and not skipped. Jobs without one are left out.

    One probe of ix_runs_job_id_id per job, newest first, rather than a grouping
    over every run of the jobs: the cost follows the number of jobs, not of runs."""
    newest = (
        select(RunRow.id)
        .where(RunRow.job_id == JobRow.id, RunRow.state.in_(_HAPPENED))
        .order_by(RunRow.id.desc())
        .limit(1)
        .correlate(JobRow)
        .scalar_subquery()
    )
    query = select(newest).select_from(JobRow)
    if job_ids is not None:
        ids = list(job_ids)
        if not ids:
            return {}
        query = query.where(JobRow.id.in_(ids))
    # The ids first, then their rows: joined, the planner may read every run.
    run_ids = [run_id for run_id in session.scalars(query) if run_id is not None]
    if not run_ids:
        return {}
    rows = session.scalars(select(RunRow).where(RunRow.id.in_(run_ids)))
    return {run.job_id: run for run in rows if run.job_id is not None}


def latest_state_of_jobs(session: Session) -> dict[int, str]:
    """The state of each job's newest run that started or ended (as `latest_of_jobs`
    picks it), without loading the run: what a look over every job needs."""
    newest = (
        select(RunRow.state)
        .where(RunRow.job_id == JobRow.id, RunRow.state.in_(_HAPPENED))
        .order_by(RunRow.id.desc())
        .limit(1)
        .correlate(JobRow)
        .scalar_subquery()
    )
    rows = session.execute(select(JobRow.id, newest))
    return {job_id: state for job_id, state in rows if state is not None}


def last_success_of_jobs(
    session: Session, job_ids: Iterable[int] | None = None
) -> dict[int, datetime]:
    """When each job's (of these, or of every job) newest successful run ended (a dry
    run is no success); one index probe per job, as in `latest_of_jobs`."""
    ended = (
        select(RunRow.finished_at)
        .where(
            RunRow.job_id == JobRow.id,
            RunRow.state == RunState.SUCCEEDED.value,
            RunRow.dry_run.is_(False),
        )
        .order_by(RunRow.id.desc())
        .limit(1)
        .correlate(JobRow)
        .scalar_subquery()
    )
    query = select(JobRow.id, ended)
    if job_ids is not None:
        ids = list(job_ids)
        if not ids:
            return {}
        query = query.where(JobRow.id.in_(ids))
    rows = session.execute(query)
    return {job_id: at for job_id, at in rows if at is not None}


def failing_since_of_jobs(session: Session, job_ids: Iterable[int]) -> dict[int, datetime]:
    """When the current failing streak of each of these jobs began: when the first
    run that failed, timed out or was lost after the job's newest success (a dry run
    is no success) ended, which is the first attempt of the streak's first failed
    chain (retries come after it). Jobs with no such run are left out.

    Two index probes per job (ix_runs_job_id_id), as `latest_of_jobs`: meant for the
    few failing jobs, not every job."""
    ids = list(job_ids)
    if not ids:
        return {}
    success = aliased(RunRow)
    last_ok = (
        select(success.id)
        .where(
            success.job_id == JobRow.id,
            success.state == RunState.SUCCEEDED.value,
            success.dry_run.is_(False),
        )
        .order_by(success.id.desc())
        .limit(1)
        .correlate(JobRow)
        .scalar_subquery()
    )
    first_bad = (
        select(RunRow.id)
        .where(
            RunRow.job_id == JobRow.id,
            RunRow.state.in_([s.value for s in RETRYABLE]),
            RunRow.id > func.coalesce(last_ok, 0),
        )
        .order_by(RunRow.id)
        .limit(1)
        .correlate(JobRow)
        .scalar_subquery()
    )
    run_ids = [
        run_id
        for run_id in session.scalars(select(first_bad).where(JobRow.id.in_(ids)))
        if run_id is not None
    ]
    if not run_ids:
        return {}
    rows = session.execute(
        select(RunRow.job_id, RunRow.finished_at, RunRow.created_at).where(RunRow.id.in_(run_ids))
    )
    return {job_id: ended or made for job_id, ended, made in rows if job_id is not None}


def unfinished_states(session: Session, job_ids: set[int]) -> dict[int, set[str]]:
    """The states of the jobs' pending, queued and running runs, by job id."""
    if not job_ids:
        return {}
    unfinished = [s.value for s in UNFINISHED]
    rows = session.execute(
        select(RunRow.job_id, RunRow.state)
        .where(RunRow.job_id.in_(job_ids), RunRow.state.in_(unfinished))
        .distinct()
    )
    out: dict[int, set[str]] = {}
    for job_id, state in rows:
        if job_id is not None:
            out.setdefault(job_id, set()).add(state)
    return out


def last_finished(session: Session, job_ids: Iterable[int]) -> dict[int, datetime]:
    """When each of these jobs' last run ended (jobs with none are left out)."""
    ids = list(job_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(RunRow.job_id, func.max(RunRow.finished_at))
        .where(RunRow.job_id.in_(ids), RunRow.finished_at.is_not(None))
        .group_by(RunRow.job_id)
    )
    return {job_id: at for job_id, at in rows if job_id is not None and at is not None}


def last_succeeded(session: Session, job_id: int) -> int | None:
    return session.scalars(
        select(RunRow.id)
        .where(
            RunRow.job_id == job_id,
            RunRow.state == RunState.SUCCEEDED.value,
            RunRow.dry_run.is_(False),
        )
        .order_by(RunRow.id.desc())
        .limit(1)
    ).first()
