"""/api/v1/scheduler: who leads, and whether dispatch keeps up."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from synchub.api.deps import NodeDep, ViewerServices
from synchub.api.problems import problem_responses as errors
from synchub.api.schemas.scheduler import SchedulerStatus

router = APIRouter(prefix="/scheduler", tags=["scheduler"], responses=errors(401, 403))


@router.get("")
def scheduler_status(svc: ViewerServices, node: NodeDep) -> SchedulerStatus:
    """The lease holder and expiry, this server's next wake when it leads, and the
    count of runs due but not yet handed to an executor."""
    status = svc.runs.scheduler_status()
    here = node.scheduler if node is not None else None
    return SchedulerStatus.model_validate(
        asdict(status)
        | {
            "this_process": node.name if node is not None else None,
            "leading_here": here.leading if here is not None else None,
            "next_wake": here.next_wake if here is not None and here.leading else None,
        }
    )
