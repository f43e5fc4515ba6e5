"""Runs. Every change of state is one conditional update: losing a race is normal."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement

from synchub.core.policies import OverlapPolicy
from synchub.core.runs import RETRYABLE, RunState, Trigger, sources_of
from synchub.core.safety import dry_run_option
from synchub.store import windows
from synchub.store.tables import Base, JobRemoteRow, JobRow, RemoteRow, RunRow

#: The tables, for Core statements on the hot paths (claim, end).
_runs = Base.metadata.tables["runs"]
_jobs = Base.metadata.tables["jobs"]


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


class Claim(StrEnum):
    CLAIMED = "claimed"  #: the caller now runs it
    GONE = "gone"  #: no longer queued (cancelled, or claimed elsewhere)
    BUSY = "busy"  #: must wait: its job is running or a remote is at its limit; back to pending
    SKIPPED = "skipped"  #: its job was running and the overlap policy says skip


@dataclass(frozen=True)
class Claimed:
    """What running a claimed run needs, read by the claim itself."""

    run_id: int
    attempt: int
    #: no earlier run of the job has succeeded (bisync needs --resync)
    first_run: bool
    job_id: int
    job_name: str
    kind: str
    params: dict[str, Any]
    timeout_s: int | None
    watch: bool  #: a watched folder's run: its file tasks follow it
    only_path: str | None  #: the one file it sends (a task's retry), or None
    started_at: datetime
    dry_run: bool = False  #: change nothing
    allow_deletes: bool = False  #: past the delete guard and the empty-source stop
    resync: bool = False  #: a bisync asked to rebuild its listings


def claim(session: Session, run_id: int, *, worker: str, now: datetime) -> Claim:
    """Atomically move a queued run to RUNNING; see `claim_run`."""
    return claim_run(session, run_id, worker=worker, now=now)[0]


# The claim's statements, built once: a claim is the hot path of every run, and
# building a statement (and its cache key) costs more CPU than running it.
_other = _runs.alias("other")
_succeeded = _runs.alias("succeeded")

#: Step 1: lock and read the run's job.
_LOCK_JOB = (
    select(
        _jobs.c.id,
        _jobs.c.name,
        _jobs.c.kind,
        _jobs.c.params,
        _jobs.c.timeout_s,
        _jobs.c.overlap,
        _jobs.c.watch,
        select(JobRemoteRow.remote_id)
        .join(RemoteRow, RemoteRow.id == JobRemoteRow.remote_id)
        .where(JobRemoteRow.job_id == _jobs.c.id, RemoteRow.max_concurrency.is_not(None))
        .exists()
        .label("limited"),
    )
    .where(
        _jobs.c.id
        == select(_runs.c.job_id).where(_runs.c.id == bindparam("run_id")).scalar_subquery()
    )
    .with_for_update(of=_jobs)
)
#: Step 2: queued -> running, returning what the run needs (its attempt, and whether
#: any run of its job ever succeeded; a dry run is no success).
_CLAIM = (
    update(_runs)
    .where(_runs.c.id == bindparam("claim_run_id"), _runs.c.state == RunState.QUEUED.value)
    .values(
        state=RunState.RUNNING.value,
        worker=bindparam("claim_worker"),
        started_at=bindparam("claim_now"),
        heartbeat_at=bindparam("claim_now"),
    )
    .returning(
        _runs.c.attempt,
        _runs.c.only_path,
        select(_succeeded.c.id)
        .where(
            _succeeded.c.job_id == bindparam("claim_job_id"),
            _succeeded.c.state == RunState.SUCCEEDED.value,
            ~_succeeded.c.dry_run,
        )
        .exists(),
        _runs.c.dry_run,
        _runs.c.allow_deletes,
        _runs.c.resync,
    )
)
#: Step 2 for a job that allows no overlap: also no running run of the job.
_CLAIM_ALONE = _CLAIM.where(
    ~select(_other.c.id)
    .where(_other.c.job_id == bindparam("claim_job_id"), _other.c.state == RunState.RUNNING.value)
    .exists()
)
_STATE = select(_runs.c.state).where(_runs.c.id == bindparam("run_id"))


def claim_run(
    session: Session, run_id: int, *, worker: str, now: datetime
) -> tuple[Claim, Claimed | None]:
    """Atomically move a queued run to RUNNING, enforcing overlap and remote limits;
    with CLAIMED comes what running it needs, None with any other outcome.

    Promise 2: the check and the write happen under the job's row lock (PostgreSQL)
    or SQLite's write lock, so two workers can never both start one job.

    1. Lock the job's row (and read it). Every claim of the job's runs takes this
       lock first, so no other run of the job can start until this transaction ends.
    2. One conditional UPDATE … RETURNING: queued, and for a job that allows no
       overlap, no running run of its job. It is a statement of its own, after the
       lock: under READ COMMITTED it sees every claim committed while we waited.
       One statement cannot do both, as its snapshot predates the wait for the lock.
    3. Only when it moved nothing: find out why (gone, or the job was running).

    On PostgreSQL the three steps are the function `synchub_claim_run` (migration
    0008; see `claim_in_one`): still separate statements, each with its own snapshot,
    in one round trip. A job using a remote with a concurrency limit takes
    `_claim_limited`'s path.
    """
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        done = claim_in_one(conn, run_id, worker=worker, now=now)
        if done is not None:
            return done
    job = session.execute(_LOCK_JOB, {"run_id": run_id}).first()
    if job is None:
        # No such run, a kept run of a deleted job, or its job deleted while we waited
        # for the lock (which cancelled the run).
        return Claim.GONE, None
    overlap = OverlapPolicy(job.overlap)
    if job.limited:
        outcome = _claim_limited(session, run_id, job.id, overlap)
        if outcome is not None:
            return outcome, None
    row = session.execute(
        _CLAIM if overlap is OverlapPolicy.ALLOW else _CLAIM_ALONE,
        {"claim_run_id": run_id, "claim_job_id": job.id, "claim_worker": worker, "claim_now": now},
    ).first()
    if row is not None:
        attempt, only_path, had_success, dry_run, allow_deletes, resync = row
        return Claim.CLAIMED, Claimed(
            run_id=run_id,
            attempt=attempt,
            first_run=not had_success,
            job_id=job.id,
            job_name=job.name,
            kind=job.kind,
            params=dict(job.params or {}),
            timeout_s=job.timeout_s,
            watch=bool(job.watch),
            only_path=only_path,
            started_at=now,
            dry_run=bool(dry_run),
            allow_deletes=bool(allow_deletes),
            resync=bool(resync),
        )
    # Nothing moved: the run is no longer queued, or (under the lock) its job runs.
    if session.scalar(_STATE, {"run_id": run_id}) != RunState.QUEUED.value:
        return Claim.GONE, None
    return _overlapping(session, run_id, overlap, now), None


#: The claim on PostgreSQL, as a function of migration 0008. Driver SQL: no statement
#: to compile, and psycopg prepares it on the server after a few uses.
_CLAIM_IN_ONE = "SELECT * FROM synchub_claim_run(%(run_id)s, %(worker)s, %(now)s)"


def claim_in_one(
    conn: Connection, run_id: int, *, worker: str, now: datetime
) -> tuple[Claim, Claimed | None] | None:
    """`claim_run`'s steps in one statement (PostgreSQL only); None, having done
    nothing, for a job using a remote with a concurrency limit: then use `claim_run`
    in a transaction.

    Safe in autocommit, where it is one round trip: the function holds the job's lock
    until its statement commits, and each of its statements takes a fresh snapshot,
    so its UPDATE sees every claim committed while it waited for that lock.
    """
    row = conn.exec_driver_sql(
        _CLAIM_IN_ONE, {"run_id": run_id, "worker": worker, "now": now}
    ).one()
    (outcome, attempt, only_path, first_run, job_id, job_name, kind, params, timeout_s, watch,
     dry_run, allow_deletes, resync) = row  # fmt: skip
    if outcome == "limited":
        return None
    if outcome != Claim.CLAIMED.value:
        return Claim(outcome), None
    return Claim.CLAIMED, Claimed(
        run_id=run_id,
        attempt=attempt,
        first_run=first_run,
        job_id=job_id,
        job_name=job_name,
        kind=kind,
        params=dict(params or {}),
        timeout_s=timeout_s,
        watch=bool(watch),
        only_path=only_path,
        started_at=now,
        dry_run=bool(dry_run),
        allow_deletes=bool(allow_deletes),
        resync=bool(resync),
    )


def _claim_limited(
    session: Session, run_id: int, job_id: int, overlap: OverlapPolicy
) -> Claim | None:
    """The checks before the claim of a run whose job uses a limited remote, in the
    order they had before the fast path: gone, overlap, remote limits. None: go on."""
    if session.scalar(_STATE, {"run_id": run_id}) != RunState.QUEUED.value:
        return Claim.GONE
    if overlap is not OverlapPolicy.ALLOW and _job_running(session, job_id):
        return None  # the UPDATE moves nothing, and the overlap policy decides
    if _remote_full(session, job_id):
        return _back_to_pending(session, run_id)
    return None


def _overlapping(session: Session, run_id: int, overlap: OverlapPolicy, now: datetime) -> Claim:
    """A queued run whose job is running: skipped or back to pending, by policy."""
    if overlap is OverlapPolicy.SKIP:
        ok = move(
            session,
            run_id,
            RunState.SKIPPED,
            expected=[RunState.QUEUED],
            reason="overlap",
            finished_at=now,
        )
        return Claim.SKIPPED if ok else Claim.GONE
    return _back_to_pending(session, run_id)


def _back_to_pending(session: Session, run_id: int) -> Claim:
    ok = move(session, run_id, RunState.PENDING, expected=[RunState.QUEUED], queued_at=None)
    return Claim.BUSY if ok else Claim.GONE


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


def _job_running(session: Session, job_id: int) -> bool:
    running = select(RunRow.id).where(
        RunRow.job_id == job_id, RunRow.state == RunState.RUNNING.value
    )
    return session.scalars(running.limit(1)).first() is not None


def _remote_full(session: Session, job_id: int) -> bool:
    """True when a remote of this job already has `max_concurrency` running runs."""
    limited = list(
        session.scalars(
            select(RemoteRow)
            .join(JobRemoteRow, JobRemoteRow.remote_id == RemoteRow.id)
            .where(JobRemoteRow.job_id == job_id, RemoteRow.max_concurrency.is_not(None))
            .order_by(RemoteRow.id)
            .with_for_update()
        )
    )
    for remote in limited:
        in_use = session.scalar(
            select(func.count(RunRow.id))
            .join(JobRemoteRow, JobRemoteRow.job_id == RunRow.job_id)
            .where(
                JobRemoteRow.remote_id == remote.id,
                RunRow.state == RunState.RUNNING.value,
            )
        )
        assert remote.max_concurrency is not None
        if (in_use or 0) >= remote.max_concurrency:
            return True
    return False


def heartbeat(
    session: Session,
    run_id: int,
    *,
    worker: str,
    now: datetime,
    progress: dict[str, Any] | None,
) -> bool | None:
    """Renew a running run's heartbeat (and progress). Returns whether a cancel was
    requested, or None when the run is no longer running under this worker."""
    values: dict[str, Any] = {"heartbeat_at": now}
    if progress is not None:
        values["progress"] = progress
    result = session.execute(
        update(RunRow)
        .where(
            RunRow.id == run_id,
            RunRow.state == RunState.RUNNING.value,
            RunRow.worker == worker,
        )
        .values(**values)
        .returning(RunRow.cancel_requested)
    )
    row = result.first()
    return None if row is None else bool(row[0])


def beats(session: Session) -> list[tuple[int, datetime | None]]:
    """Each running run with its last heartbeat, stamped by its worker's clock."""
    rows = session.execute(
        select(RunRow.id, RunRow.heartbeat_at).where(RunRow.state == RunState.RUNNING.value)
    )
    return [(run_id, beat) for run_id, beat in rows]


def lock_if_beat_is(session: Session, run_id: int, beat: datetime | None) -> bool:
    """Lock a running run if its heartbeat is still `beat`: a beat that lands after
    this waits for the transaction, and finds the run ended."""
    stamp = RunRow.heartbeat_at.is_(None) if beat is None else RunRow.heartbeat_at == beat
    found = session.scalar(
        select(RunRow.id)
        .where(RunRow.id == run_id, RunRow.state == RunState.RUNNING.value, stamp)
        .with_for_update()
    )
    return found is not None


def stale_queued(session: Session, now: datetime, after_s: float) -> list[int]:
    """Queued runs no executor started within `after_s`: their hand-over was lost."""
    cutoff = now - timedelta(seconds=after_s)
    return list(
        session.scalars(
            select(RunRow.id).where(
                RunRow.state == RunState.QUEUED.value, RunRow.queued_at < cutoff
            )
        )
    )


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
    waiting = [RunState.PENDING.value, RunState.QUEUED.value]
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
    waiting = [RunState.PENDING.value, RunState.QUEUED.value]
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


def running_count(session: Session) -> int:
    return int(
        session.scalar(select(func.count(RunRow.id)).where(RunRow.state == RunState.RUNNING.value))
        or 0
    )


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


def count_due_pending(session: Session, now: datetime) -> int:
    """Pending runs whose time has come but that no executor has been given yet."""
    return int(
        session.scalar(
            select(func.count(RunRow.id)).where(
                RunRow.state == RunState.PENDING.value, RunRow.not_before <= now
            )
        )
        or 0
    )


def count_in_state(session: Session, state: RunState) -> int:
    return int(
        session.scalar(select(func.count(RunRow.id)).where(RunRow.state == state.value)) or 0
    )


# -- figures for /metrics: aggregates over every run, computed when scraped ----------


def _seconds(session: Session, start: Any, end: Any) -> Any:
    """SQL for the seconds from `start` to `end` (both timestamp columns)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    # julianday's doubles carry ~10 µs of noise at today's dates: round to the ms.
    return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)


def totals_by_job_and_state(session: Session) -> list[tuple[str, str, int, int]]:
    """(job, state, runs, bytes transferred) for every job name and state it has runs
    in; the kept runs of a deleted job still count under its name (counters only grow)."""
    moved = func.coalesce(func.sum(RunRow.stats["bytes"].as_integer()), 0)
    rows = session.execute(
        select(RunRow.job_name, RunRow.state, func.count(RunRow.id), moved)
        .group_by(RunRow.job_name, RunRow.state)
        .order_by(RunRow.job_name, RunRow.state)
    )
    return [(name, state, int(n), int(b or 0)) for name, state, n, b in rows]


def histogram(
    session: Session, what: str, buckets: Sequence[float]
) -> tuple[list[int], float, int]:
    """Cumulative counts per upper bound, sum and count of `what`: "duration" (started
    to finished, ended runs) or "lateness" (fire time to start, scheduled runs)."""
    if what == "duration":
        value = _seconds(session, RunRow.started_at, RunRow.finished_at)
        where: list[ColumnElement[bool]] = [
            RunRow.started_at.is_not(None),
            RunRow.finished_at.is_not(None),
        ]
    else:
        value = _seconds(session, RunRow.scheduled_for, RunRow.started_at)
        where = [
            RunRow.trigger == Trigger.SCHEDULE.value,
            RunRow.scheduled_for.is_not(None),
            RunRow.started_at.is_not(None),
        ]
    columns = [func.sum(case((value <= le, 1), else_=0)) for le in buckets]
    row = session.execute(
        select(func.count(RunRow.id), func.coalesce(func.sum(value), 0.0), *columns).where(*where)
    ).one()
    count, total, *counts = row
    return [int(c or 0) for c in counts], float(total or 0.0), int(count or 0)


def depth_by_queue(session: Session) -> list[tuple[str, int]]:
    """Runs waiting (pending or queued) per queue."""
    waiting = [RunState.PENDING.value, RunState.QUEUED.value]
    rows = session.execute(
        select(RunRow.queue, func.count(RunRow.id))
        .where(RunRow.state.in_(waiting))
        .group_by(RunRow.queue)
        .order_by(RunRow.queue)
    )
    return [(queue, int(n)) for queue, n in rows]


def last_success_by_job(session: Session) -> list[tuple[str, datetime]]:
    """(job, finished_at) of each existing job's last success (dry runs change nothing:
    none is a success). A deleted job has no figure: an alert on its age must not
    fire forever for a job nobody runs."""
    rows = session.execute(
        select(JobRow.name, func.max(RunRow.finished_at))
        .join(JobRow, JobRow.id == RunRow.job_id)
        .where(RunRow.state == RunState.SUCCEEDED.value, RunRow.dry_run.is_(False))
        .group_by(JobRow.name)
        .order_by(JobRow.name)
    )
    return [(name, at) for name, at in rows if at is not None]


def unfinished_states(session: Session, job_ids: set[int]) -> dict[int, set[str]]:
    """The states of the jobs' pending, queued and running runs, by job id."""
    if not job_ids:
        return {}
    unfinished = [RunState.PENDING.value, RunState.QUEUED.value, RunState.RUNNING.value]
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


# -- what the console shows per job and per run --------------------------------------

#: States of runs that did something (or were stopped doing it): a job's "last run".
_HAPPENED = [
    s.value for s in RunState if s not in (RunState.PENDING, RunState.QUEUED, RunState.SKIPPED)
]


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


def retry_of_run(session: Session, run: RunRow) -> int | None:
    """The id of the run that retries `run`, if any (see `retried` for the search)."""
    found = select(RunRow.id).where(
        RunRow.job_name == run.job_name, RunRow.id > run.id, RunRow.retry_of == run.id
    )
    return session.scalars(found.order_by(RunRow.id).limit(1)).first()
