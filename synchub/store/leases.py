"""Leases: one holder at a time per name, for as long as it keeps renewing.

Whether a lease lapsed is for the caller to judge: `expires_at` is written with the
holder's clock, which another machine's clock need not agree with (see
`synchub.scheduler.lapse`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from synchub.store.tables import LeaseRow

#: The lease of the scheduler that leads (`synchub.scheduler.loop`).
SCHEDULER = "scheduler"


def renew(session: Session, name: str, holder: str, *, now: datetime, ttl_s: float) -> bool:
    """Renew lease `name` if `holder` still holds it."""
    renewed = session.execute(
        update(LeaseRow)
        .where(LeaseRow.name == name, LeaseRow.holder == holder)
        .values(expires_at=now + timedelta(seconds=ttl_s))
    )
    return renewed.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def take(
    session: Session,
    name: str,
    holder: str,
    *,
    now: datetime,
    ttl_s: float,
    seen: LeaseRow | None,
) -> bool:
    """Take lease `name`: free (`seen` is None), or from the holder whose row was read
    as `seen`, provided nobody renewed or took it since. False when someone did."""
    expires = now + timedelta(seconds=ttl_s)
    if seen is not None:
        taken = session.execute(
            update(LeaseRow)
            .where(
                LeaseRow.name == name,
                LeaseRow.holder == seen.holder,
                LeaseRow.expires_at == seen.expires_at,
            )
            .values(holder=holder, expires_at=expires, acquired_at=now)
        )
        return taken.rowcount == 1  # type: ignore[attr-defined, no-any-return]
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
