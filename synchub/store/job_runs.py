"""Each job's runs summed up: its last run, its last success (from its summary, see
`job_summary`), whether it has runs waiting or running, when its last run ended."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from synchub.core.runs import UNFINISHED, WAITING, RunState
from synchub.store import job_summary
from synchub.store.tables import JobRow, RunRow

#: States of runs that did something (or were stopped doing it): a job's "last run".
_HAPPENED = [s.value for s in RunState if s not in WAITING and s is not RunState.SKIPPED]


def latest_of_jobs(
    session: Session,
    job_ids: Iterable[int] | None = None,
    *,
    summaries: dict[int, job_summary.Summary] | None = None,
    running: dict[int, int] | None = None,
) -> dict[int, RunRow]:
    """The newest run of each job (of these, or of every job) that started or ended:
    not waiting and not skipped. Jobs without one are left out. A caller that read
    these jobs' summaries (`job_summary.of_jobs`), or every job's newest running run
    (`job_summary.newest_running`), in this session gives them: not read again.

    The newer of the job's running run and its summary's last ended run (both by
    id), so a few queries for any number of jobs; a job whose last ended run was
    deleted since is looked up among its runs, newest first."""
    ids = None if job_ids is None else list(job_ids)
    if ids is not None and not ids:
        return {}
    if summaries is None:
        summaries = job_summary.of_jobs(session, ids)
    if running is None:
        running = job_summary.newest_running(session, ids)
    elif ids is not None:
        running = {job_id: running[job_id] for job_id in ids if job_id in running}
    newest = {i: s.last_id for i, s in summaries.items() if s.last_id}
    for job_id, run_id in running.items():
        newest[job_id] = max(run_id, newest.get(job_id) or 0)
    found: dict[int, RunRow] = {}
    if newest:
        rows = session.scalars(select(RunRow).where(RunRow.id.in_(newest.values())))
        found = {run.job_id: run for run in rows if run.job_id is not None}
    gone = [job_id for job_id in newest if job_id not in found]
    if gone:
        found.update(_probe_latest(session, gone))
    return found


def _probe_latest(session: Session, job_ids: list[int]) -> dict[int, RunRow]:
    """`latest_of_jobs` from the runs themselves: one probe of ix_runs_job_id_id per job."""
    newest = (
        select(RunRow.id)
        .where(RunRow.job_id == JobRow.id, RunRow.state.in_(_HAPPENED))
        .order_by(RunRow.id.desc())
        .limit(1)
        .correlate(JobRow)
        .scalar_subquery()
    )
    query = select(newest).select_from(JobRow).where(JobRow.id.in_(job_ids))
    # The ids first, then their rows: joined, the planner may read every run.
    run_ids = [run_id for run_id in session.scalars(query) if run_id is not None]
    if not run_ids:
        return {}
    rows = session.scalars(select(RunRow).where(RunRow.id.in_(run_ids)))
    return {run.job_id: run for run in rows if run.job_id is not None}


def last_success_of_jobs(
    session: Session, job_ids: Iterable[int] | None = None
) -> dict[int, datetime]:
    """When each job's (of these, or of every job) newest successful run ended (a dry
    run is no success), as its summary keeps it: still known once that run is pruned."""
    summaries = job_summary.of_jobs(session, job_ids)
    return {job_id: s.success_at for job_id, s in summaries.items() if s.success_at is not None}


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
