"""The claim: a worker takes a queued run, once, and learns what running it needs.

Promise 2: the check and the write happen under the job's row lock (PostgreSQL) or
SQLite's write lock, so two workers can never both start one job, and a remote never
runs more than its limit.

Two paths, one behaviour (`tests/integration/test_claim.py` runs the same scenarios
on each):

- the statements (`claim_with_statements`): SQLite's, and PostgreSQL's for a job
  using a remote with a concurrency limit;
- on PostgreSQL, the function `synchub_claim_v2`, whose only text is
  `synchub/store/sql/claim_v2.sql` (`claim_in_one`): the same steps in one round
  trip. It leaves a limited remote's runs to the statements ('limited').

Each path returns, with a claimed run, all the runner reads of its job (its hooks,
windows and whether a job runs after it, `RunExtras`): a run starts without a read
of its own.

`take` is the claim as a worker makes it, choosing the path; `take_many` claims
many runs as `take` would, together (the runs due at one instant).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import Connection, Select, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from synchub.core.clock import Clock
from synchub.core.policies import OverlapPolicy
from synchub.core.runs import RunState
from synchub.store.db import autocommit, is_postgresql, transaction
from synchub.store.jobs import RunExtras
from synchub.store.runs import move
from synchub.store.tables import Base, JobChainRow, JobRemoteRow, RemoteRow, RunRow

#: The claim's PostgreSQL function: its text is `sql/claim_v2.sql`, which a migration
#: creates. A change is a new version, file and name (`sql/claim_v1.sql` says why).
FUNCTION = "synchub_claim_v2"
#: That function's text, read by its migration and the tests.
SQL_FILE = Path(__file__).with_name("sql") / "claim_v2.sql"
#: Every released claim function and its file, oldest first. The older ones stay in
#: the database for the workers of earlier versions during a rolling upgrade; their
#: files are never edited (a migration builds from them).
RELEASED = {
    "synchub_claim_v1": Path(__file__).with_name("sql") / "claim_v1.sql",
    FUNCTION: SQL_FILE,
}

_runs = Base.metadata.tables["runs"]
_jobs = Base.metadata.tables["jobs"]


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
    #: the rest the runner needs of the job: hooks, windows, whether one follows
    extras: RunExtras
    dry_run: bool = False  #: change nothing
    allow_deletes: bool = False  #: past the delete guard and the empty-source stop
    resync: bool = False  #: a bisync asked to rebuild its listings


ClaimOutcome = tuple[Claim, Claimed | None]


@dataclass(frozen=True)
class EndMove:
    """The end of the caller's previous run, a RUNNING run moved to `state` with
    `values`, committed by the claim's own statement (see `take`)."""

    run_id: int
    job_id: int
    state: RunState
    values: Mapping[str, Any]


#: `claim_in_one`'s answer when the caller's own end not yet written could change
#: the outcome: nothing was done; claim again once that end is in.
WAIT: Final = "wait"


def _nothing() -> None:
    pass


def take(
    sessions: sessionmaker[Session],
    run_id: int,
    *,
    worker: str,
    clock: Clock,
    unended_job: int | None = None,
    settle: Callable[[], None] = _nothing,
    end: EndMove | None = None,
) -> ClaimOutcome:
    """Claim the run as a worker does: on PostgreSQL the function, one statement in
    autocommit (one round trip), and only for a limited remote's run the statements
    in a transaction; on SQLite the statements.

    `unended_job`: the job of the caller's previous run, whose end is still being
    written; `settle` waits for that end. The claim waits for it only where the end
    could change the outcome: a run of the same job (its overlap policy, whether it
    ever succeeded), a remote's limit, the statements' path.

    `end` (PostgreSQL only): that end itself, written by the claim's statement, which
    commits both at once: one round trip and one commit where there were two. The
    function does not see it (it runs first), so `unended_job` is its job, and a
    claim that waits finds it committed. Once `take` returns, the end is in."""
    if is_postgresql(sessions):
        done = _in_one(sessions, run_id, worker, clock, unended_job, end)
        if done == WAIT:
            settle()
            done = _in_one(sessions, run_id, worker, clock, None)
        if isinstance(done, tuple):
            return done
    settle()
    with transaction(sessions) as session:
        return claim_with_statements(session, run_id, worker=worker, now=clock.now())


def _in_one(
    sessions: sessionmaker[Session],
    run_id: int,
    worker: str,
    clock: Clock,
    unended_job: int | None,
    end: EndMove | None = None,
) -> ClaimOutcome | Literal["wait"] | None:
    with autocommit(sessions) as conn:
        if end is not None:
            return claim_after_end(
                conn, run_id, worker=worker, now=clock.now(), unended_job=unended_job, end=end
            )
        return claim_in_one(conn, run_id, worker=worker, now=clock.now(), unended_job=unended_job)


def take_many(
    sessions: sessionmaker[Session], run_ids: Sequence[int], *, worker: str, clock: Clock
) -> list[ClaimOutcome]:
    """Claim many runs as `take` claims each, in one transaction: on PostgreSQL one
    statement calling the function for each run (a limited remote's run is then
    claimed by `take`), on SQLite the statements of every run under one write lock.
    The outcomes in the order of `run_ids` (a run given twice: claimed, then gone).

    For runs due at the same instant: one statement and one commit where each
    claim would make its own. It claims all or, failing, nothing: on PostgreSQL it
    fails rather than wait longer than `LOCK_WAIT_MS` for one job's lock (held by
    an edit, or by a claim elsewhere), which each run claimed alone would wait for
    without holding up the others."""
    now = clock.now()
    with transaction(sessions) as session:
        if not is_postgresql(sessions):
            return [claim_with_statements(session, r, worker=worker, now=now) for r in run_ids]
        conn = session.connection()
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_WAIT_MS}")
        rows = conn.exec_driver_sql(
            _CLAIM_MANY, {"run_ids": list(run_ids), "worker": worker, "now": now}
        ).all()
    answers = {n: _answer(run_ids[n - 1], now, row) for n, *row in rows}
    return [
        done if isinstance(done := answers[n], tuple)
        else take(sessions, run_id, worker=worker, clock=clock)
        for n, run_id in enumerate(run_ids, 1)
    ]  # fmt: skip


def claim(session: Session, run_id: int, *, worker: str, now: datetime) -> Claim:
    """The claim within the caller's transaction, by the path `take` would use; its
    outcome alone (for tools and tests that stand in for a worker)."""
    if session.connection().dialect.name == "postgresql":
        done = claim_in_one(session.connection(), run_id, worker=worker, now=now)
        if isinstance(done, tuple):
            return done[0]
    return claim_with_statements(session, run_id, worker=worker, now=now)[0]


# The statements, built once: a claim is the hot path of every run, and building a
# statement (and its cache key) costs more CPU than running it.
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
        _jobs.c.hooks,
        _jobs.c.windows,
        _jobs.c.windows_tz,
        select(JobChainRow.upstream_id)
        .where(JobChainRow.upstream_id == _jobs.c.id)
        .exists()
        .label("followed"),
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
        _runs.c.trigger,
    )
)
#: Step 2 for a job that allows no overlap: also no running run of the job.
_CLAIM_ALONE = _CLAIM.where(
    ~select(_other.c.id)
    .where(_other.c.job_id == bindparam("claim_job_id"), _other.c.state == RunState.RUNNING.value)
    .exists()
)
_STATE = select(_runs.c.state).where(_runs.c.id == bindparam("run_id"))


def claim_with_statements(
    session: Session, run_id: int, *, worker: str, now: datetime
) -> ClaimOutcome:
    """Atomically move a queued run to RUNNING, enforcing overlap and remote limits;
    with CLAIMED comes what running it needs, None with any other outcome.

    1. Lock the job's row (and read it). Every claim of the job's runs takes this
       lock first, so no other run of the job can start until this transaction ends.
    2. One conditional UPDATE … RETURNING: queued, and for a job that allows no
       overlap, no running run of its job. It is a statement of its own, after the
       lock: under READ COMMITTED it sees every claim committed while we waited.
       One statement cannot do both, as its snapshot predates the wait for the lock.
    3. Only when it moved nothing: find out why (gone, or the job was running).

    A job using a remote with a concurrency limit is checked first (`_claim_limited`).
    """
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
        attempt, only_path, had_success, dry_run, allow_deletes, resync, trigger = row
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
            extras=_extras(job.hooks, job.followed, job.windows, job.windows_tz, trigger),
            dry_run=bool(dry_run),
            allow_deletes=bool(allow_deletes),
            resync=bool(resync),
        )
    # Nothing moved: the run is no longer queued, or (under the lock) its job runs.
    if session.scalar(_STATE, {"run_id": run_id}) != RunState.QUEUED.value:
        return Claim.GONE, None
    return _overlapping(session, run_id, overlap, now), None


#: Driver SQL: no statement to compile, and psycopg prepares it on the server after
#: a few uses.
_CLAIM_IN_ONE = f"SELECT * FROM {FUNCTION}(%(run_id)s, %(worker)s, %(now)s, %(unended_job)s)"


#: The longest `take_many` waits for one job's lock on PostgreSQL, in ms.
LOCK_WAIT_MS = 100
#: `take_many`'s statement. The runs' jobs are locked in the order of their ids (the
#: subquery's ORDER BY keeps it: it is never merged into the outer query), so two
#: processes' batches never wait for each other's locks in a circle.
_CLAIM_MANY = f"""
SELECT r.n, c.*
  FROM (SELECT ids.id, ids.n
          FROM unnest(%(run_ids)s::bigint[]) WITH ORDINALITY AS ids (id, n)
          LEFT JOIN runs ON runs.id = ids.id
         ORDER BY runs.job_id, ids.n) AS r
 CROSS JOIN LATERAL {FUNCTION}(r.id, %(worker)s, %(now)s, NULL) AS c
"""


def claim_in_one(
    conn: Connection, run_id: int, *, worker: str, now: datetime, unended_job: int | None = None
) -> ClaimOutcome | Literal["wait"] | None:
    """The claim as one statement, the function (PostgreSQL only); None, having done
    nothing, for a job using a remote with a concurrency limit: then claim with the
    statements in a transaction. WAIT, having done nothing, for a run whose outcome
    the end of the caller's run of `unended_job` could change (see `take`).

    Safe in autocommit, where it is one round trip: the function holds the job's lock
    until its statement commits, and each of its statements takes a fresh snapshot,
    so its UPDATE sees every claim committed while it waited for that lock.
    """
    row = conn.exec_driver_sql(
        _CLAIM_IN_ONE,
        {"run_id": run_id, "worker": worker, "now": now, "unended_job": unended_job},
    ).one()
    return _answer(run_id, now, row)


#: The function's columns, in its order.
_COLUMNS = (
    "c_outcome", "c_attempt", "c_only_path", "c_first_run", "c_job_id", "c_job_name",
    "c_kind", "c_params", "c_timeout_s", "c_watch", "c_dry_run", "c_allow_deletes",
    "c_resync", "c_hooks", "c_followed", "c_windows", "c_windows_tz", "c_trigger",
)  # fmt: skip


def claim_after_end(
    conn: Connection,
    run_id: int,
    *,
    worker: str,
    now: datetime,
    unended_job: int | None,
    end: EndMove,
) -> ClaimOutcome | Literal["wait"] | None:
    """`claim_in_one`, and in the same statement (so the same commit) the end of the
    caller's previous run: a data-modifying WITH, which runs to completion whatever
    the function answers. The function does not see that end: pass its job as
    `unended_job`."""
    statement = _claim_after_end(end.state.value, tuple(sorted(end.values)))
    params = {f"end_{k}": v for k, v in end.values.items()}
    row = conn.execute(
        statement,
        {"end_id": end.run_id, "claim_run_id": run_id, "claim_worker": worker,
         "claim_now": now, "claim_unended_job": unended_job, **params},
    ).one()  # fmt: skip
    return _answer(run_id, now, row)


@functools.cache
def _claim_after_end(target: str, columns: tuple[str, ...]) -> Select[Any]:
    """The statement of `claim_after_end` for one shape of end, built once. (Its
    parameters' names are no column's: in an UPDATE such a name would set it.)"""
    ended = (
        update(_runs)
        .where(_runs.c.id == bindparam("end_id"), _runs.c.state == RunState.RUNNING.value)
        .values(state=target, **{c: bindparam(f"end_{c}") for c in columns})
        .cte("ended")
    )
    claimed = getattr(func, FUNCTION)(
        bindparam("claim_run_id"),
        bindparam("claim_worker"),
        bindparam("claim_now"),
        bindparam("claim_unended_job"),
    ).table_valued(*_COLUMNS)
    return select(claimed).add_cte(ended)


def _answer(run_id: int, now: datetime, row: Any) -> ClaimOutcome | Literal["wait"] | None:
    """The function's row as `claim_in_one` returns it."""
    (outcome, attempt, only_path, first_run, job_id, job_name, kind, params, timeout_s, watch,
     dry_run, allow_deletes, resync, hooks, followed, windows, windows_tz,
     trigger) = row  # fmt: skip
    if outcome == "limited":
        return None
    if outcome == WAIT:
        return WAIT
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
        extras=_extras(hooks, followed, windows, windows_tz, trigger),
        dry_run=bool(dry_run),
        allow_deletes=bool(allow_deletes),
        resync=bool(resync),
    )


def _extras(
    hooks: Any, followed: Any, windows: Any, windows_tz: str | None, trigger: str | None
) -> RunExtras:
    return RunExtras(
        dict(hooks or {}), bool(followed), list(windows or []), windows_tz, trigger or ""
    )


def _claim_limited(
    session: Session, run_id: int, job_id: int, overlap: OverlapPolicy
) -> Claim | None:
    """The checks before the claim of a run whose job uses a limited remote: gone,
    then overlap (the policy decides, as for any job), then the remotes' limits.
    None: go on with the UPDATE."""
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
