"""Leases: one holder at a time per name, for as long as it keeps renewing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from synchub.store.tables import LeaseRow


def acquire(session: Session, name: str, holder: str, *, now: datetime, ttl_s: float) -> bool:
    """Take or renew lease `name` for `holder`. False when someone else holds it."""
    expires = now + timedelta(seconds=ttl_s)
    renewed = session.execute(
        update(LeaseRow)
        .where(
            LeaseRow.name == name,
            or_(LeaseRow.holder == holder, LeaseRow.expires_at < now),
        )
        .values(holder=holder, expires_at=expires)
    )
    if renewed.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if session.get(LeaseRow, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(LeaseRow(name=name, holder=holder, expires_at=expires, acquired_at=now))
    except IntegrityError:
        return False  # another process inserted it first
    return True


def release(session: Session, name: str, holder: str) -> None:
    session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))


def current(session: Session, name: str) -> LeaseRow | None:
    return session.scalars(select(LeaseRow).where(LeaseRow.name == name)).first()
