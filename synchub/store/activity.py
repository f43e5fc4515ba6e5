"""Figures over many runs at once, for the console's charts: each a single grouped or
limited query, so a chart costs the same whatever the number of jobs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, case, cast, func, literal_column, select
from sqlalchemy.orm import Session

from synchub.store.tables import RunRow


def _utc_day(session: Session, column: Any) -> Any:
    """SQL for the UTC calendar day of a timestamp column."""
    if session.get_bind().dialect.name == "postgresql":
        # A literal, not a bound parameter: GROUP BY must repeat the very same
        # expression, and two parameters ($1, $2) are not the same to PostgreSQL.
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    return func.date(column)  # SQLite keeps naive UTC text: its first ten characters


def _moved() -> Any:
    """SQL for a run's bytes moved: a dry run moves nothing, whatever it counted."""
    return case((RunRow.dry_run.is_(False), RunRow.stats["bytes"].as_integer()), else_=0)


def ended_per_day(session: Session, since: datetime) -> list[tuple[date, str, int, int]]:
    """(UTC day, state, runs, bytes moved) of the runs that ended at or after `since`,
    one row per day and state that has any."""
    day = _utc_day(session, RunRow.finished_at).label("day")
    moved = func.coalesce(func.sum(_moved()), 0)
    rows = session.execute(
        select(day, RunRow.state, func.count(RunRow.id), moved)
        .where(RunRow.finished_at >= since)
        .group_by(day, RunRow.state)
    )
    return [(_as_date(d), state, int(n), int(b or 0)) for d, state, n, b in rows]


def ended_of_job(session: Session, job_name: str, limit: int) -> list[Any]:
    """The newest `limit` ended runs of the job of this name (kept runs included),
    newest first: id, state, dry_run, started_at, finished_at, bytes. One read of
    ix_runs_job_name_id."""
    query = (
        select(
            RunRow.id,
            RunRow.state,
            RunRow.dry_run,
            RunRow.started_at,
            RunRow.finished_at,
            _moved().label("bytes"),
        )
        .where(RunRow.job_name == job_name, RunRow.finished_at.is_not(None))
        .order_by(RunRow.id.desc())
        .limit(limit)
    )
    return list(session.execute(query))


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
