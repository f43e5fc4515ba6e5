"""Jobs and the remotes each one uses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from synchub.store.tables import JobRemoteRow, JobRow, RemoteRow


def get(session: Session, name: str) -> JobRow | None:
    return session.scalars(select(JobRow).where(JobRow.name == name)).first()


def get_by_id(session: Session, job_id: int) -> JobRow | None:
    return session.get(JobRow, job_id)


def by_ids(session: Session, ids: set[int]) -> list[JobRow]:
    if not ids:
        return []
    return list(session.scalars(select(JobRow).where(JobRow.id.in_(ids))))


def lock(session: Session, job_id: int) -> JobRow | None:
    """The job row, locked until the transaction ends (a no-op lock on SQLite,
    where every transaction already holds the write lock)."""
    return session.scalars(select(JobRow).where(JobRow.id == job_id).with_for_update()).first()


def all_jobs(session: Session) -> list[JobRow]:
    return list(session.scalars(select(JobRow).order_by(JobRow.name)))


def set_remotes(session: Session, job_id: int, remote_names: frozenset[str]) -> None:
    session.execute(delete(JobRemoteRow).where(JobRemoteRow.job_id == job_id))
    ids = session.scalars(select(RemoteRow.id).where(RemoteRow.name.in_(remote_names)))
    session.add_all(JobRemoteRow(job_id=job_id, remote_id=rid) for rid in ids)


def remove(session: Session, job_id: int) -> None:
    session.execute(delete(JobRow).where(JobRow.id == job_id))


def due(session: Session, now: datetime, limit: int) -> list[JobRow]:
    """Enabled jobs whose next fire time has come, locked against other schedulers."""
    return list(
        session.scalars(
            select(JobRow)
            .where(JobRow.enabled.is_(True), JobRow.next_fire_at <= now)
            .order_by(JobRow.next_fire_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def earliest_fire(session: Session) -> datetime | None:
    return session.scalars(
        select(JobRow.next_fire_at)
        .where(JobRow.enabled.is_(True), JobRow.next_fire_at.is_not(None))
        .order_by(JobRow.next_fire_at)
        .limit(1)
    ).first()


def advance(
    session: Session, job_id: int, *, expected: datetime | None, to: datetime | None
) -> bool:
    """Move the job's next fire from `expected` to `to`. False if it changed meanwhile."""
    result = session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.next_fire_at == expected)
        .values(next_fire_at=to)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def longest_timeout(session: Session) -> float | None:
    """The longest timeout of any job, None when none has one."""
    value = session.scalar(select(func.max(JobRow.timeout_s)))
    return None if value is None else float(value)


def watched(session: Session, *, enabled_only: bool = True) -> list[JobRow]:
    """Watched-folder jobs (the enabled ones only, by default), by id."""
    query = select(JobRow).where(JobRow.watch.is_(True)).order_by(JobRow.id)
    if enabled_only:
        query = query.where(JobRow.enabled.is_(True))
    return list(session.scalars(query))
