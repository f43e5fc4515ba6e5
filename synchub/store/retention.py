"""The SQL of pruning: which runs a job has that may go, and deleting them (and their
log lines and change-report rows) a bounded number of rows at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, delete, exists, func, select, text, update
from sqlalchemy.orm import Session, aliased

from synchub.core.retention import Candidate
from synchub.core.runs import RETRYABLE, TERMINAL, RunState
from synchub.store.db import INCREMENTAL
from synchub.store.tables import FileTaskRow, JobRow, RunFileRow, RunLogRow, RunRow

_ENDED = [s.value for s in TERMINAL]
_FAILED = [s.value for s in RETRYABLE]


@dataclass(frozen=True)
class Group:
    """The runs pruned by one rule: a job's, or those of a deleted job (by its name)."""

    job_id: int | None
    job_name: str
    keep_runs_s: int | None = None
    keep_runs_count: int | None = None
    keep_logs_s: int | None = None

    def where(self) -> ColumnElement[bool]:
        if self.job_id is not None:
            return RunRow.job_id == self.job_id
        return (RunRow.job_id.is_(None)) & (RunRow.job_name == self.job_name)


@dataclass(frozen=True)
class Looked:
    """A run as pruning sees it."""

    id: int
    created_at: datetime
    state: str
    retry_of: int | None
    alert_examined: bool


def groups(session: Session, job: str | None = None) -> list[Group]:
    """Every job's group, then one per name of deleted jobs with kept runs; only
    `job`'s (a job, or a deleted job's name) when given."""
    query = select(
        JobRow.id, JobRow.name, JobRow.keep_runs_s, JobRow.keep_runs_count, JobRow.keep_logs_s
    ).order_by(JobRow.id)
    if job is not None:
        query = query.where(JobRow.name == job)
    found = [Group(*row) for row in session.execute(query)]
    orphans = select(RunRow.job_name).where(RunRow.job_id.is_(None)).distinct()
    if job is not None:
        orphans = orphans.where(RunRow.job_name == job)
    found += [Group(None, name) for name in session.scalars(orphans.order_by(RunRow.job_name))]
    return found


def protected(session: Session, group: Group) -> set[int]:
    """The group's last success (not a dry run) and last failure: always kept."""
    last_success = session.scalar(
        select(func.max(RunRow.id)).where(
            group.where(),
            RunRow.state == RunState.SUCCEEDED.value,
            RunRow.dry_run.is_(False),
        )
    )
    last_failure = session.scalar(
        select(func.max(RunRow.id)).where(group.where(), RunRow.state.in_(_FAILED))
    )
    return {i for i in (last_success, last_failure) if i is not None}


def count_boundary(session: Session, group: Group, count: int) -> int | None:
    """The id of the group's `count`-th newest run: runs below it are beyond the
    count (`count` is at least 1). None when it has fewer than `count` runs."""
    return session.scalar(
        select(RunRow.id).where(group.where()).order_by(RunRow.id.desc()).offset(count - 1).limit(1)
    )


_LOOKED = (RunRow.id, RunRow.created_at, RunRow.state, RunRow.retry_of, RunRow.alert_examined)


def oldest(
    session: Session,
    group: Group,
    *,
    after: int,
    below: int | None,
    limit: int,
    logs: bool = False,
) -> list[Looked]:
    """The group's runs with `after` < id (< `below`), oldest first; with `logs`, only
    those whose logs were not pruned yet."""
    query = select(*_LOOKED).where(group.where(), RunRow.id > after)
    if below is not None:
        query = query.where(RunRow.id < below)
    if logs:
        query = query.where(RunRow.logs_pruned.is_(False))
    return [Looked(*row) for row in session.execute(query.order_by(RunRow.id).limit(limit))]


def retry_chains(
    session: Session, run_ids: Sequence[int]
) -> tuple[list[Looked], dict[int, list[int]]]:
    """The runs that retry `run_ids`, those that retry them, and so on; and which
    run retries which (run id -> its retries' ids)."""
    found: list[Looked] = []
    retries: dict[int, list[int]] = defaultdict(list)
    frontier = list(run_ids)
    while frontier:
        rows = [
            Looked(*row)
            for chunk in _chunks(frontier)
            for row in session.execute(select(*_LOOKED).where(RunRow.retry_of.in_(chunk)))
        ]
        for row in rows:
            assert row.retry_of is not None
            retries[row.retry_of].append(row.id)
        found += rows
        frontier = [row.id for row in rows]
    return found, dict(retries)


def candidate(row: Looked, *, old: bool, kept: set[int], unseen_before: datetime) -> Candidate:
    """`row` as a candidate: removable when ended, not kept, `old` enough by its
    group's rule, and seen by the alert pass (or created before `unseen_before`:
    with no server running, no alert pass ever looks)."""
    seen = row.alert_examined or row.created_at < unseen_before
    removable = old and row.state in _ENDED and seen and row.id not in kept
    return Candidate(row.id, row.retry_of, removable)


def count_children(session: Session, run_ids: Sequence[int], *, logs_only: bool) -> tuple[int, int]:
    """Log lines and change-report rows of `run_ids` (with `logs_only`, the report
    rows pruning logs would take: those naming no kept version)."""
    lines = reports = 0
    for chunk in _chunks(run_ids):
        lines += (
            session.scalar(
                select(func.count()).select_from(RunLogRow).where(RunLogRow.run_id.in_(chunk))
            )
            or 0
        )
        query = select(func.count()).select_from(RunFileRow).where(RunFileRow.run_id.in_(chunk))
        if logs_only:
            query = query.where(RunFileRow.kept_at.is_(None))
        reports += session.scalar(query) or 0
    return lines, reports


def delete_log_lines(session: Session, run_ids: Sequence[int], limit: int) -> int:
    """Delete up to `limit` log lines of `run_ids`; return how many went."""
    some = select(RunLogRow.id).where(RunLogRow.run_id.in_(run_ids)).limit(limit)
    return _rowcount(
        session.execute(delete(RunLogRow).where(RunLogRow.id.in_(some)), execution_options=_BULK)
    )


def delete_report_rows(
    session: Session, run_ids: Sequence[int], limit: int, *, logs_only: bool
) -> int:
    """Delete up to `limit` change-report rows of `run_ids` (with `logs_only`, not
    those naming a kept version); return how many went."""
    some = select(RunFileRow.id).where(RunFileRow.run_id.in_(run_ids))
    if logs_only:
        some = some.where(RunFileRow.kept_at.is_(None))
    return _rowcount(
        session.execute(
            delete(RunFileRow).where(RunFileRow.id.in_(some.limit(limit))),
            execution_options=_BULK,
        )
    )


def delete_runs(session: Session, run_ids: Sequence[int]) -> int:
    """Delete the ended runs of `run_ids` that no other run retries (a retry made
    since they were chosen keeps its run); return how many went. Their file tasks
    forget them (ON DELETE SET NULL); logs and reports go by cascade if any are left."""
    retry = aliased(RunRow)
    # `retry_of IN run_ids` says again what the correlation implies: without it,
    # PostgreSQL merges with every retry in the table, once per batch.
    still_needed = exists().where(
        retry.retry_of == RunRow.id, retry.retry_of.in_(run_ids), retry.id.not_in(run_ids)
    )
    return _rowcount(
        session.execute(
            delete(RunRow).where(RunRow.id.in_(run_ids), RunRow.state.in_(_ENDED), ~still_needed)
        )
    )


def mark_logs_pruned(session: Session, run_ids: Sequence[int]) -> int:
    return _rowcount(
        session.execute(
            update(RunRow)
            .where(RunRow.id.in_(run_ids), RunRow.state.in_(_ENDED))
            .values(logs_pruned=True),
            execution_options=_BULK,
        )
    )


def old_tasks(session: Session, before: datetime, limit: int) -> int:
    """How many done file tasks finished before `before` (up to `limit`)."""
    some = _done_before(before).limit(limit).subquery()
    return session.scalar(select(func.count()).select_from(some)) or 0


def delete_tasks(session: Session, before: datetime, limit: int) -> int:
    """Delete up to `limit` done file tasks finished before `before`."""
    some = _done_before(before).limit(limit)
    return _rowcount(
        session.execute(
            delete(FileTaskRow).where(FileTaskRow.id.in_(some)), execution_options=_BULK
        )
    )


def _done_before(before: datetime) -> Select[Any]:
    return select(FileTaskRow.id).where(
        FileTaskRow.state == "done", FileTaskRow.finished_at < before
    )


#: The tables pruning looks up and deletes from by their indexes.
_PRUNED = ("runs", "run_logs", "run_files", "file_tasks")


def analyze_unknown(engine: Engine) -> list[str]:
    """PostgreSQL: gather the planner's statistics of the pruned tables that have
    none yet; return which. Without them (autovacuum off, or a bulk load it has not
    reached) the planner takes a batch's list of run ids to match most of a table and
    reads all of it for every batch. ANALYZE reads a sample and blocks no reader or
    writer. Nothing elsewhere: SQLite's planner picks the indexes without them."""
    if engine.dialect.name != "postgresql":
        return []
    known = text(
        "SELECT DISTINCT tablename FROM pg_stats "
        "WHERE schemaname = current_schema() AND tablename = ANY(:tables)"
    )
    with engine.connect() as conn:
        have = set(conn.scalars(known, {"tables": list(_PRUNED)}))
        missing = [t for t in _PRUNED if t not in have]
        for table in missing:
            conn.exec_driver_sql(f"ANALYZE {table}")  # our own names, never input
        conn.commit()
    return missing


def give_back_space(engine: Engine, pages: int = 2048) -> int:
    """SQLite: return up to `pages` free pages to the file system (the file shrinks
    at the next checkpoint); how many were free before. 0 elsewhere."""
    if engine.dialect.name != "sqlite":
        return 0
    raw = engine.raw_connection()  # autocommit (see store.db): each pragma on its own
    try:
        cursor = raw.cursor()
        mode = cursor.execute("PRAGMA auto_vacuum").fetchone()[0]
        free = int(cursor.execute("PRAGMA freelist_count").fetchone()[0])
        if mode == INCREMENTAL and free:
            cursor.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()
        return free if mode == INCREMENTAL else 0
    finally:
        raw.close()


def checkpoint(engine: Engine) -> None:
    """SQLite: copy the write-ahead log into the file now (which lets it shrink)."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        raw.close()


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


#: Pruning's bulk writes touch no object a session holds: no ORM bookkeeping.
_BULK = {"synchronize_session": False}


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
