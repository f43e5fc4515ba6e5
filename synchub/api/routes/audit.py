"""/api/v1/audit: who changed what, and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from synchub.api.deps import ViewerServices
from synchub.api.pagination import decode_cursor, encode_cursor
from synchub.api.params import Cursor, Filter, Limit, Since, Until
from synchub.api.problems import problem_responses as errors
from synchub.api.schemas.audit import AuditEvent, AuditPage

router = APIRouter(prefix="/audit", tags=["audit"], responses=errors(401, 403))


@router.get("", responses=errors(422))
def list_audit(
    svc: ViewerServices,
    actor: Filter = None,
    action: Annotated[
        str | None, Query(min_length=1, description="e.g. job (every job.*) or job.edit")
    ] = None,
    target_type: Annotated[
        str | None, Query(min_length=1, description="remote, job or token")
    ] = None,
    target: Filter = None,
    since: Since = None,
    until: Until = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> AuditPage:
    """Events newest first, secrets redacted; follow `next_cursor` for older ones."""
    events = svc.audit.page(
        actor=actor,
        action=action,
        target_type=target_type,
        target=target,
        since=since,
        until=until,
        before_id=decode_cursor(cursor),
        limit=limit,
    )
    data = [AuditEvent.of(e) for e in events]
    next_cursor = encode_cursor(data[-1].id) if len(data) == limit else None
    return AuditPage(data=data, count=len(data), next_cursor=next_cursor)
