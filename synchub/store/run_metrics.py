"""Figures for /metrics and the health page: aggregates over every run, computed
when asked for (a scrape), never kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from synchub.core.runs import WAITING, RunState, Trigger
from synchub.store.tables import JobRow, RunRow


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
    waiting = [s.value for s in WAITING]
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
