"""The audit log, read back: who changed what, when, before and after (secrets redacted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from synchub.core.errors import InvalidInput
from synchub.services.masks import job_event, remote_event
from synchub.services.run_views import check_instant
from synchub.store import audit as store
from synchub.store.db import reading

if TYPE_CHECKING:
    from synchub.services.context import Services

MAX_LIMIT = 1000


@dataclass(frozen=True)
class AuditEntry:
    """One audit event. `before` and `after` are the views it recorded, as JSON
    documents (what each view was when it was written), secrets masked."""

    id: int
    at: str  #: ISO 8601
    actor: str  #: the token's name, or "cli"
    action: str  #: e.g. job.edit, remote.add, token.revoke
    target_type: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target_type": self.target_type,
            "target": self.target,
            "before": self.before,
            "after": self.after,
        }


class AuditService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def page(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target_type: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Events newest first. `action` "job" matches every job.* action. Continue with
        `before_id` = the last id seen. InvalidInput for a bad limit or a naive time."""
        if limit < 1 or limit > MAX_LIMIT:
            raise InvalidInput(f"Bad limit: use a number from 1 to {MAX_LIMIT}")
        since, until = check_instant(since, "since"), check_instant(until, "until")
        with reading(self.svc.sessions) as session:
            rows = store.page(
                session,
                actor=actor,
                action=action,
                target_type=target_type,
                target=target,
                since=since,
                until=until,
                before_id=before_id,
                limit=limit,
            )
            return [
                AuditEntry(
                    id=r.id,
                    at=r.at.isoformat(),
                    actor=r.actor,
                    action=r.action,
                    target_type=r.target_type,
                    target=r.target,
                    before=_masked(r.target_type, r.before),
                    after=_masked(r.target_type, r.after),
                )
                for r in rows
            ]


def _masked(target_type: str, view: dict[str, Any] | None) -> dict[str, Any] | None:
    # Events recorded before an option (or a job's env) counted as secret hold its
    # value until a start seals it (RemoteService.seal_stored, JobService.
    # seal_stored_env): masked here meanwhile.
    if target_type == "remote":
        return remote_event(view)
    return job_event(view) if target_type == "job" else view
