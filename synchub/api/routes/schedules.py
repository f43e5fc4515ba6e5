"""/api/v1/schedules/validate: try a schedule before saving it."""

from __future__ import annotations

from fastapi import APIRouter

from synchub.api.deps import ViewerServices
from synchub.api.problems import problem_responses as errors
from synchub.api.schemas.schedules import ScheduleCheck, ScheduleVerdict

router = APIRouter(prefix="/schedules", tags=["schedules"], responses=errors(401, 403))


@router.post("/validate", responses=errors(400, 413, 422))
def validate_schedule(body: ScheduleCheck, svc: ViewerServices) -> ScheduleVerdict:
    """Whether a cron expression (in a zone) or an interval is valid: its description
    and next fire times, or the error and the field at fault. Always 200 for a
    schedule; 422 only for a malformed request."""
    every = f"{body.every}s" if isinstance(body.every, int) else body.every
    verdict = svc.jobs.check_schedule(
        cron=body.cron, every=every, tz=body.tz, count=body.count, after=body.after
    )
    return ScheduleVerdict.model_validate(verdict.as_dict())
