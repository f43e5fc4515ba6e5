"""Figures over many runs at once, for the console's charts: each a single grouped or
limited query, so a chart costs the same whatever the number of jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, literal_column, select
from sqlalchemy.orm import Session

from synchub.store.tables import RunRow


def _utc_hour(session: Session, column: Any) -> Any:
    """SQL for the start of the UTC hour of a timestamp column."""
    if session.get_bind().dialect.name == "postgresql":
        # Literals, not bound parameters: GROUP BY must repeat the very same
        # expression, and two parameters ($1, $2) are not the same to PostgreSQL.
        utc = func.timezone(literal_column("'UTC'"), column)
        return func.date_trunc(literal_column("'hour'"), utc)
    # SQLite keeps naive UTC text
    return func.strftime(literal_column("'%Y-%m-%d %H:00:00'"), column)


def _moved() -> Any:
    """SQL for a run's bytes moved: a dry run moves nothing, whatever it counted."""
    return case((RunRow.dry_run.is_(False), RunRow.stats["bytes"].as_integer()), else_=0)


def ended_per_hour(session: Session, since: datetime) -> list[tuple[datetime, str, int, int]]:
    """(start of the UTC hour, state, runs, bytes moved) of the runs that ended at or
    after `since`, one row per hour and state that has any."""
    hour = _utc_hour(session, RunRow.finished_at).label("hour")
    moved = func.coalesce(func.sum(_moved()), 0)
    rows = session.execute(
        select(hour, RunRow.state, func.count(RunRow.id), moved)
        .where(RunRow.finished_at >= since)
        .group_by(hour, RunRow.state)
    )
    return [(_as_hour(h), state, int(n), int(b or 0)) for h, state, n, b in rows]


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


def _as_hour(value: datetime | str) -> datetime:
    hour = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return hour.replace(tzinfo=UTC)
