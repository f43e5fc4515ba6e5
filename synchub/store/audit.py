"""The audit log: append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from synchub.store.tables import AuditRow


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    target_type: str,
    target: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one event. Callers pass views with secrets already redacted."""
    session.add(
        AuditRow(
            at=at,
            actor=actor,
            action=action,
            target_type=target_type,
            target=target,
            before=before,
            after=after,
        )
    )


def recent(session: Session, limit: int = 100) -> list[AuditRow]:
    return list(session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)))
