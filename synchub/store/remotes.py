"""Remotes: rows with their secret options sealed."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from synchub.store.tables import JobRemoteRow, JobRow, RemoteRow


def get(session: Session, name: str) -> RemoteRow | None:
    return session.scalars(select(RemoteRow).where(RemoteRow.name == name)).first()


def all_remotes(session: Session, *, lock: bool = False) -> list[RemoteRow]:
    """Every remote by name; `lock`: for update, until the transaction ends."""
    query = select(RemoteRow).order_by(RemoteRow.name)
    return list(session.scalars(query.with_for_update() if lock else query))


def names(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(RemoteRow.name)))


def by_names(session: Session, wanted: frozenset[str]) -> list[RemoteRow]:
    if not wanted:
        return []
    return list(session.scalars(select(RemoteRow).where(RemoteRow.name.in_(wanted))))


def any_sealed(session: Session) -> bool:
    """Whether any remote holds sealed secrets."""
    found = session.scalar(select(RemoteRow.id).where(RemoteRow.secrets.is_not(None)).limit(1))
    return found is not None


def sealed(session: Session) -> list[tuple[int, str, bytes]]:
    """(id, name, sealed secrets) of every remote holding sealed secrets."""
    rows = session.execute(
        select(RemoteRow.id, RemoteRow.name, RemoteRow.secrets)
        .where(RemoteRow.secrets.is_not(None))
        .order_by(RemoteRow.name)
    )
    return [(r.id, r.name, r.secrets) for r in rows]


def forget_secrets(session: Session, remote_id: int, secrets: bytes) -> bool:
    """Drop the remote's sealed secrets if they are still `secrets` (an edit meanwhile
    wins). False when they changed."""
    result = session.execute(
        update(RemoteRow)
        .where(RemoteRow.id == remote_id, RemoteRow.secrets == secrets)
        .values(secrets=None)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def jobs_using(session: Session, remote_id: int) -> list[str]:
    return list(
        session.scalars(
            select(JobRow.name)
            .join(JobRemoteRow, JobRemoteRow.job_id == JobRow.id)
            .where(JobRemoteRow.remote_id == remote_id)
            .order_by(JobRow.name)
        )
    )


def remove(session: Session, remote_id: int) -> None:
    session.execute(delete(RemoteRow).where(RemoteRow.id == remote_id))
