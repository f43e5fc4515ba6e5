"""/api/v1/health: the checks of `synchub doctor`, for the console and for monitoring."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from synchub.api.deps import NodeDep, ViewerServices
from synchub.api.problems import problem_responses as errors
from synchub.services.doctor import healthy

router = APIRouter(prefix="/health", tags=["health"], responses=errors(401, 403))


class Check(BaseModel):
    check: str
    level: Literal["ok", "note", "problem"]
    message: str
    fix: str | None


class Health(BaseModel):
    healthy: bool
    checks: list[Check]


@router.get("", responses={503: {"model": Health, "description": "a check found a problem"}})
def health(svc: ViewerServices, node: NodeDep, response: Response) -> Health:
    """Every check of `synchub doctor` but the remotes' (which may take long): rclone,
    the data directory and disk, the database, schema and secret key, clocks, the
    scheduler, broker and workers, broken remote references and watched folders.
    503 when one found a problem; each says what to do in `fix`."""
    workers = node.describe_workers if node is not None else None
    findings = svc.doctor.examine(workers=workers)
    ok = healthy(findings)
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(healthy=ok, checks=[Check(**f.as_dict()) for f in findings])
