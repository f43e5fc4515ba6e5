"""API tokens: rows keyed by the digest of their secret."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from synchub.store.tables import TokenRow


def by_digest(session: Session, digest: str) -> TokenRow | None:
    return session.scalars(select(TokenRow).where(TokenRow.digest == digest)).first()


def live_by_name(session: Session, name: str) -> TokenRow | None:
    """The token called `name` that is not revoked (it may have expired)."""
    return session.scalars(
        select(TokenRow).where(TokenRow.name == name, TokenRow.revoked_at.is_(None))
    ).first()


def listing(session: Session, *, include_revoked: bool = False) -> list[TokenRow]:
    query = select(TokenRow).order_by(TokenRow.name, TokenRow.id)
    if not include_revoked:
        query = query.where(TokenRow.revoked_at.is_(None))
    return list(session.scalars(query))


def count_usable(session: Session, now: datetime) -> int:
    """Tokens neither revoked nor expired."""
    return int(
        session.scalar(
            select(func.count(TokenRow.id)).where(
                TokenRow.revoked_at.is_(None),
                or_(TokenRow.expires_at.is_(None), TokenRow.expires_at > now),
            )
        )
        or 0
    )


def revoke(session: Session, token_id: int, *, now: datetime) -> bool:
    """Revoke a live token. False when it was revoked meanwhile."""
    result = session.execute(
        update(TokenRow)
        .where(TokenRow.id == token_id, TokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def forget_revoked_digest(session: Session, digest: str, *, replacement: str) -> None:
    """Give a revoked token holding `digest` the digest `replacement` instead, so that
    a new token may have that secret; the revoked row stays, for the record."""
    session.execute(
        update(TokenRow)
        .where(TokenRow.digest == digest, TokenRow.revoked_at.is_not(None))
        .values(digest=replacement)
    )


def touch(session: Session, token_id: int, *, now: datetime, every_s: float) -> None:
    """Record a use, at most once per `every_s`: a write per request would serialise
    every read on SQLite, and "used in the last minute" is all anyone asks."""
    session.execute(
        update(TokenRow)
        .where(
            TokenRow.id == token_id,
            or_(
                TokenRow.last_used_at.is_(None),
                TokenRow.last_used_at < now - timedelta(seconds=every_s),
            ),
        )
        .values(last_used_at=now)
    )
