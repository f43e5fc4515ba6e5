"""The audit log: append-only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from synchub.store.tables import AuditRow

#: What every event recorded meanwhile carries in its `after` (see `noting`).
_NOTE: ContextVar[dict[str, Any] | None] = ContextVar("synchub_audit_note", default=None)


@contextmanager
def noting(note: dict[str, Any]) -> Iterator[None]:
    """Every event recorded in this block (this thread or task) carries `note`'s keys
    in its `after`: e.g. the digest of the configuration file an apply came from."""
    token = _NOTE.set(note)
    try:
        yield
    finally:
        _NOTE.reset(token)


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
    note = _NOTE.get()
    if note:
        after = {**(after or {}), **note}
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


def about(session: Session, target_type: str) -> list[AuditRow]:
    """Every event about a `target_type` ("remote", "job" ...), oldest first."""
    query = select(AuditRow).where(AuditRow.target_type == target_type).order_by(AuditRow.id)
    return list(session.scalars(query))


def page(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditRow]:
    """Events newest first, filtered; `before_id` continues a previous page (keyset)."""
    query = select(AuditRow)
    if actor is not None:
        query = query.where(AuditRow.actor == actor)
    if action is not None:
        # "job" matches every job.* action; "job.edit" only itself.
        query = query.where(
            AuditRow.action == action
            if "." in action
            else AuditRow.action.startswith(action + ".", autoescape=True)
        )
    if target_type is not None:
        query = query.where(AuditRow.target_type == target_type)
    if target is not None:
        query = query.where(AuditRow.target == target)
    if since is not None:
        query = query.where(AuditRow.at >= since)
    if until is not None:
        query = query.where(AuditRow.at < until)
    if before_id is not None:
        query = query.where(AuditRow.id < before_id)
    return list(session.scalars(query.order_by(AuditRow.id.desc()).limit(limit)))
