"""Runs. Every change of state is one conditional update: losing a race is normal."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update

from synchub.core.runs import RETRYABLE, WAITING, RunState, Trigger, sources_of
from synchub.core.safety import dry_run_option
from synchub.store import windows
from synchub.store.tables import Base, JobRow, RunRow

#: The table, for Core statements on the hot paths (a run's end, the scheduler's batch).
_runs = Base.metadata.tables["runs"]


def get(session: Session, run_id: int) -> RunRow | None:
    return session.get(RunRow, run_id)


def create(
    session: Session,
    job: JobRow,
    *,
    trigger: Trigger,
    now: datetime,
    state: RunState = RunState.PENDING,
    scheduled_for: datetime | None = None,
    reason: str | None = None,
    attempt: int = 1,
    retry_of: int | None = None,
    not_before: datetime | None = None,
    queue: str | None = None,
    only_path: str | None = None,
    dry_run: bool = False,
    allow_deletes: bool = False,
    resync: bool = False,
    chained_from: int | None = None,
) -> int | None:
    """Insert a run and return its id; None when its fire time already has a run
    (or, `chained_from`, when that run already requested one of this job).
    `only_path`: the run sends that one file of its (watched) job. `dry_run`: it
    changes nothing (a job passing --dry-run makes every run one); `allow_deletes`:
    it may pass the delete guard and the empty-source stop; `resync`: a bisync run
    that rebuilds its listings."""
    values = _values(
        job, trigger=trigger, now=now, state=state, scheduled_for=scheduled_for,
        reason=reason, attempt=attempt, retry_of=retry_of, not_before=not_before, queue=queue,
        only_path=only_path, dry_run=dry_run, allow_deletes=allow_deletes, resync=resync,
        chained_from=chained_from,
    )  # fmt: skip
    if trigger is Trigger.CHAIN:
        # A run's end may be written twice (a retried commit, a race with the
        # reaper): the unique (job, chained_from) index keeps one chained run.
        return _insert_once(session, values, ["job_id", "chained_from"], "chained_from IS NOT NULL")
    if trigger is not Trigger.SCHEDULE:
        row = RunRow(**values)
        session.add(row)
        session.flush()
        return row.id
    # Promise 1: the unique (job, fire time) index decides; a second scheduler,
    # a restart or a replayed transaction inserts nothing.
    return _insert_once(session, values, ["job_id", "scheduled_for"], "trigger = 'schedule'")


def _insert_once(
    session: Session, values: dict[str, Any], key: list[str], where: str
) -> int | None:
    """Insert a run unless one with the same `key` (a partial unique index whose
    predicate is `where`) exists; its id, or None."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(RunRow)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=key,
            # A literal, not a bound parameter: PostgreSQL matches the partial index
            # by comparing this predicate with the index's own text.
            index_where=text(where),
        )
        .returning(RunRow.id)
    )
    return session.execute(stmt).scalar_one_or_none()


def create_scheduled(
    session: Session, fires: Sequence[tuple[JobRow, datetime, datetime | None]], now: datetime
) -> dict[tuple[int, datetime], int]:
    """Insert the pending runs of many fire times in one statement: (job, fire time,
    not_before or None for now) each. Returns the new ids by (job id, fire time); a
    fire time that already has a run (promise 1, as in `create`) is left out."""
    if not fires:
        return {}
    rows = [
        _values(job, trigger=Trigger.SCHEDULE, now=now, scheduled_for=at, not_before=wait)
        for job, at, wait in fires
    ]
    name = session.get_bind().dialect.name
    result = session.execute(_insert_scheduled(name), rows)
    return {(job_id, at): run_id for run_id, job_id, at in result}


@functools.cache
def _insert_scheduled(dialect_name: str) -> Any:
    """`create`'s insert for many rows at once, built once: SQLAlchemy sends the rows
    of an executemany with RETURNING as multi-row INSERTs ("insertmanyvalues")."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(_runs)
        .on_conflict_do_nothing(
            index_elements=["job_id", "scheduled_for"], index_where=text("trigger = 'schedule'")
        )
        .returning(_runs.c.id, _runs.c.job_id, _runs.c.scheduled_for)
    )


def _values(
    job: JobRow,
    *,
    trigger: Trigger,
    now: datetime,
    state: RunState = RunState.PENDING,
    scheduled_for: datetime | None = None,
    reason: str | None = None,
    attempt: int = 1,
    retry_of: int | None = None,
    not_before: datetime | None = None,
    queue: str | None = None,
    only_path: str | None = None,
    dry_run: bool = False,
    allow_deletes: bool = False,
    resync: bool = False,
    chained_from: int | None = None,
) -> dict[str, Any]:
    """A new run's columns (see `create`)."""
    return {
        "job_id": job.id,
        "job_name": job.name,
        "trigger": trigger.value,
        "state": state.value,
        "reason": reason,
        "scheduled_for": scheduled_for,
        "attempt": attempt,
        "retry_of": retry_of,
        "queue": queue or job.queue,
        "not_before": windows.not_before(job, trigger.value, not_before or now),
        "created_at": now,
        "finished_at": now if state is RunState.SKIPPED else None,
        "cancel_requested": False,
        "log_dropped_lines": 0,
        "log_dropped_bytes": 0,
        "files_dropped": 0,
        "only_path": only_path,
        "dry_run": dry_run or (job.kind == "rclone" and dry_run_option(job.params or {})),
        "allow_deletes": allow_deletes,
        "resync": resync,
        "chained_from": chained_from,
    }


def create_retry(
    session: Session, run: RunRow, job: JobRow, *, now: datetime, not_before: datetime | None
) -> int | None:
    """The next attempt of `run`: the same fire time, queue and file, a dry run or a
    resync again if it was one, whether the retry policy or a person asks for it. (Deletes allowed
    past the guard are not carried over: they were allowed for that run.)"""
    return create(
        session,
        job,
        trigger=Trigger.RETRY,
        now=now,
        scheduled_for=run.scheduled_for,
        attempt=run.attempt + 1,
        retry_of=run.id,
        not_before=not_before,
        queue=run.queue,
        only_path=run.only_path,
        dry_run=run.dry_run,
        resync=run.resync,
    )


def move(
    session: Session | Connection,
    run_id: int,
    target: RunState,
    *,
    expected: Sequence[RunState] | None = None,
    **values: Any,
) -> bool:
    """Move a run to `target` from one of `expected` (default: every allowed source).

    Returns False when the run was not in such a state: another process got there first.
    On a Connection in autocommit (PostgreSQL) it is one round trip, a run's end alone.
    """
    sources = tuple(s.value for s in (expected or sources_of(target)))
    statement = _move_statement(target.value, sources, tuple(sorted(values)))
    result = session.execute(
        statement, {"move_where_id": run_id, **{f"move_set_{k}": v for k, v in values.items()}}
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


@functools.cache
def _move_statement(target: str, sources: tuple[str, ...], columns: tuple[str, ...]) -> Update:
    """The UPDATE of `move`, built once per shape: building a statement (and its cache
    key) costs more CPU than running it, and every run's end is one. On the table, not
    the mapped class: the ORM's bulk-update layer would cost more still."""
    return (
        update(_runs)
        .where(_runs.c.id == bindparam("move_where_id"), _runs.c.state.in_(sources))
        .values(state=target, **{c: bindparam(f"move_set_{c}") for c in columns})
    )


def due_pending(session: Session, now: datetime, limit: int) -> list[RunRow]:
    """Pending runs whose wait is over, oldest first."""
    return list(
        session.scalars(
            select(RunRow)
            .where(RunRow.state == RunState.PENDING.value, RunRow.not_before <= now)
            .order_by(RunRow.not_before, RunRow.id)
            .limit(limit)
        )
    )


def earliest_pending(session: Session, after: datetime) -> datetime | None:
    """The first time after `after` at which a waiting pending run becomes due."""
    return session.scalars(
        select(func.min(RunRow.not_before)).where(
            RunRow.state == RunState.PENDING.value, RunRow.not_before > after
        )
    ).first()


def running_job_ids(session: Session) -> set[int]:
    running = select(RunRow.job_id).where(
        RunRow.state == RunState.RUNNING.value, RunRow.job_id.is_not(None)
    )
    return {job_id for job_id in session.scalars(running) if job_id is not None}


def mark_queued(session: Session, run_ids: Sequence[int], now: datetime) -> set[int]:
    """Move pending runs to QUEUED; return the ids that were still pending."""
    if not run_ids:
        return set()
    result = session.execute(
        update(RunRow)
        .where(RunRow.id.in_(run_ids), RunRow.state == RunState.PENDING.value)
        .values(state=RunState.QUEUED.value, queued_at=now)
        .returning(RunRow.id)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


def skip_if_job_running(session: Session, run_id: int, job_id: int, now: datetime) -> bool:
    """Record a pending run as skipped (reason overlap) when a run of its job is
    running: what its claim would do, said when it is asked for. True if skipped."""
    others = select(RunRow.id).where(
        RunRow.job_id == job_id, RunRow.state == RunState.RUNNING.value, RunRow.id != run_id
    )
    result = session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.state == RunState.PENDING.value, others.exists())
        .values(state=RunState.SKIPPED.value, reason="overlap", finished_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def running_of_job(session: Session, job_id: int) -> list[int]:
    """Ids of the job's running runs, oldest first."""
    return list(
        session.scalars(
            select(RunRow.id)
            .where(RunRow.job_id == job_id, RunRow.state == RunState.RUNNING.value)
            .order_by(RunRow.id)
        )
    )


def cancel_waiting(session: Session, job_id: int, *, now: datetime, reason: str) -> list[int]:
    """End the job's pending and queued runs as CANCELLED; return their ids.

    One conditional update: a run claimed meanwhile is running and stays so.
    """
    waiting = [s.value for s in WAITING]
    result = session.execute(
        update(RunRow)
        .where(RunRow.job_id == job_id, RunRow.state.in_(waiting))
        .values(state=RunState.CANCELLED.value, finished_at=now, reason=reason)
        .returning(RunRow.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(result.scalars())


def withdraw_ahead(session: Session, job_id: int, *, now: datetime) -> list[int]:
    """Delete the job's runs fired ahead for fire times still to come and not started;
    return their ids. For a job disabled or given a new schedule within the scheduler's
    lead: those fire times no longer belong to it, and their rows must go (not end as
    cancelled), or the unique (job, fire time) index would keep the new schedule from
    firing the same time again. A worker holding such a run's message finds it gone.
    """
    waiting = [s.value for s in WAITING]
    result = session.execute(
        delete(_runs)
        .where(
            _runs.c.job_id == job_id,
            _runs.c.trigger == Trigger.SCHEDULE.value,
            _runs.c.state.in_(waiting),
            _runs.c.scheduled_for > now,
        )
        .returning(_runs.c.id)
    )
    return sorted(result.scalars())


def count_of_job(session: Session, job_id: int) -> int:
    return int(session.scalar(select(func.count(RunRow.id)).where(RunRow.job_id == job_id)) or 0)


def remove_of_job(session: Session, job_id: int) -> int:
    """Delete the job's runs (their logs and change reports follow); return how many."""
    result = session.execute(
        delete(RunRow).where(RunRow.job_id == job_id).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def request_cancel(session: Session, run_id: int, *, error: str | None = None) -> bool:
    """Flag a running run for its runner to stop; `error` is what its end will say
    (its runner keeps it). False when it is not running."""
    result = session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.state == RunState.RUNNING.value)
        .values(cancel_requested=True, error=error)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def retried(session: Session, runs: Sequence[RunRow]) -> set[int]:
    """The ids of those of `runs` that are failed, timed out or lost and already have
    a next attempt (what makes their Celery state RETRY). Ended otherwise, a run is
    never in the result.

    `retry_of` has no index, and searching it alone reads every run: 30 ms at 100,000
    runs, 0.3 s at a million, on every page of runs. But a retry is always a later
    run (a greater id) of the job of the same name, so the search stays within
    ix_runs_job_name_id: only the newer runs of these runs' jobs are read.
    """
    ended = [run for run in runs if RunState(run.state) in RETRYABLE]
    if not ended:
        return set()
    query = select(RunRow.retry_of).where(
        RunRow.job_name.in_({run.job_name for run in ended}),
        RunRow.id > min(run.id for run in ended),
        RunRow.retry_of.in_([run.id for run in ended]),
    )
    return {rid for rid in session.scalars(query) if rid is not None}


def page(
    session: Session,
    *,
    job_name: str | None = None,
    states: Sequence[RunState] = (),
    triggers: Sequence[Trigger] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[RunRow]:
    """Runs newest first (by id), created in [since, until).

    `job_name` matches the name a run's job had when the run was created: the runs
    of the job of that name, and the kept runs of deleted jobs that had it.

    Keyset pagination: pass the last id of a page as `before_id` for the next one,
    which stays correct while new runs arrive and costs the same at any depth.
    """
    query = select(RunRow)
    if job_name is not None:
        query = query.where(RunRow.job_name == job_name)
    if states:
        query = query.where(RunRow.state.in_([s.value for s in states]))
    if triggers:
        query = query.where(RunRow.trigger.in_([t.value for t in triggers]))
    if since is not None:
        query = query.where(RunRow.created_at >= since)
    if until is not None:
        query = query.where(RunRow.created_at < until)
    if before_id is not None:
        query = query.where(RunRow.id < before_id)
    return list(session.scalars(query.order_by(RunRow.id.desc()).limit(limit)))


def has_job_name(session: Session, job_name: str) -> bool:
    """True when some run, kept or not, was created for a job of this name."""
    found = select(RunRow.id).where(RunRow.job_name == job_name).limit(1)
    return session.scalars(found).first() is not None


def retry_of_run(session: Session, run: RunRow) -> int | None:
    """The id of the run that retries `run`, if any (see `retried` for the search)."""
    found = select(RunRow.id).where(
        RunRow.job_name == run.job_name, RunRow.id > run.id, RunRow.retry_of == run.id
    )
    return session.scalars(found.order_by(RunRow.id).limit(1)).first()
