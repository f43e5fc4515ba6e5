"""The audit log: AuditEvent and AuditPage (a keyset page)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from synchub.services.audit import AuditEntry


class AuditEvent(BaseModel):
    id: int
    at: datetime
    actor: str  #: the token's name, or "cli"
    action: str  #: e.g. job.edit, remote.add, token.revoke
    target_type: str
    target: str
    before: dict[str, Any] | None  #: secrets redacted
    after: dict[str, Any] | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEvent:
        return cls.model_validate(entry.as_dict())


class AuditPage(BaseModel):
    data: list[AuditEvent]
    count: int
    next_cursor: str | None
