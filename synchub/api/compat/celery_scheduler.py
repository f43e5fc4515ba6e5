"""The scheduler endpoints of the Celery-based sync systems synchub replaces.

Their front ends and scripts call these exact paths and read the envelope
{"code": 200, "msg": "Success", "data": ...} (errors: the HTTP status in `code`,
the reason in `msg`, `data` null). Job ids stand for their "sync config" ids and
run ids for Celery task ids. Each handler translates to the same services the rest
of the API uses; no rule lives here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Body
from pydantic import BaseModel

from synchub.api.deps import OperatorServices, ViewerServices
from synchub.api.problems import envelope_responses as errors
from synchub.core.errors import RunNotFound
from synchub.core.runs import Trigger
from synchub.services import Services
from synchub.services.jobs.job_views import JobBrief, ScheduleInvalid

PREFIX = "/api/v1/task/scheduler"

router = APIRouter(prefix=PREFIX, tags=["celery scheduler (compat)"], responses=errors(401, 403))

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    code: int = 200
    msg: str = "Success"
    data: T


class RefreshResult(BaseModel):
    success: bool
    message: str
    total_configs: int  #: jobs
    added_count: int  #: enabled jobs with a schedule
    skipped_count: int  #: disabled or manual-only jobs
    error_count: int
    active_tasks: list[int]  #: their job ids


class TaskStatus(BaseModel):
    total_scheduled_tasks: int
    scheduled_config_ids: list[int]  #: ids of enabled jobs with a schedule
    task_names: list[str]  #: their names
    beat_schedule_count: int
    next_runs: dict[str, datetime | None]  #: job id -> next fire time
    running_task_ids: list[str]  #: runs now running


class CronValidation(BaseModel):
    valid: bool
    message: str | None = None
    next_run_in_seconds: float | None = None
    description: str | None = None
    error: str | None = None


class Cleared(BaseModel):
    message: str
    status: Literal["cleared"]
    cleared_count: int
    config_ids: list[int]  #: jobs disabled


class Submitted(BaseModel):
    message: str
    task_id: str  #: the run id
    config_id: int  #: the job id
    status: Literal["submitted"]


class SubmittedMany(BaseModel):
    message: str
    task_ids: list[str]  #: one run per enabled job
    count: int
    status: Literal["submitted"]


class TaskResult(BaseModel):
    task_id: str
    status: str  #: PENDING, STARTED, SUCCESS, FAILURE, RETRY or REVOKED
    ready: bool  #: the run has ended
    successful: bool | None
    failed: bool | None
    result: dict[str, Any] | None  #: state, stats, exit code and error once ended
    traceback: str | None  #: the error, for a failed run


def _scheduled(svc: Services) -> list[JobBrief]:
    return [b for b in svc.jobs.briefs(enabled=True) if b.scheduled]


@router.post("/refresh-tasks")
def refresh_tasks(svc: OperatorServices) -> Envelope[RefreshResult]:
    """Reload schedules from the database. synchub's scheduler always reads them from
    there; this wakes it and reports what is scheduled."""
    svc.on_change()
    every = svc.jobs.briefs()
    active = [b.id for b in _scheduled(svc)]
    skipped = len(every) - len(active)
    return Envelope(
        data=RefreshResult(
            success=True,
            message=f"schedules reloaded: {len(active)} active, {skipped} skipped",
            total_configs=len(every),
            added_count=len(active),
            skipped_count=skipped,
            error_count=0,
            active_tasks=active,
        )
    )


@router.get("/task-status")
def task_status(svc: ViewerServices) -> Envelope[TaskStatus]:
    """What is scheduled (job ids, next fires) and what is running."""
    jobs = _scheduled(svc)
    running = svc.runs.page(states=["running"], limit=1000)
    return Envelope(
        data=TaskStatus(
            total_scheduled_tasks=len(jobs),
            scheduled_config_ids=[b.id for b in jobs],
            task_names=[b.name for b in jobs],
            beat_schedule_count=len(jobs),
            next_runs={str(b.id): b.next_fire_at for b in jobs},
            running_task_ids=[str(r.id) for r in running],
        )
    )


@router.post("/validate-cron", responses=errors(400, 413, 422))
def validate_cron(
    svc: ViewerServices,
    cron_expr: Annotated[str, Body(description="A bare JSON string", examples=["0 2 * * *"])],
) -> Envelope[CronValidation]:
    """Check a 5-field cron expression (in the server's default zone)."""
    if not cron_expr.strip():
        return Envelope(data=CronValidation(valid=False, error="The cron expression is empty"))
    verdict = svc.jobs.check_schedule(cron=cron_expr, count=1)
    if isinstance(verdict, ScheduleInvalid):
        return Envelope(data=CronValidation(valid=False, error=verdict.error))
    first = datetime.fromisoformat(verdict.next[0])
    return Envelope(
        data=CronValidation(
            valid=True,
            message="The cron expression is valid",
            next_run_in_seconds=(first - svc.clock.now()).total_seconds(),
            description=verdict.description,
        )
    )


@router.delete("/clear-tasks")
def clear_tasks(svc: OperatorServices) -> Envelope[Cleared]:
    """Unschedule every job: each enabled job is disabled (and audited)."""
    ids = {b.name: b.id for b in svc.jobs.briefs(enabled=True)}
    names = svc.jobs.disable_all()
    return Envelope(
        data=Cleared(
            message=f"{len(names)} job(s) disabled",
            status="cleared",
            cleared_count=len(names),
            config_ids=[ids[n] for n in names if n in ids],
        )
    )


@router.post("/execute-sync/{config_id}", responses=errors(404, 422))
def execute_sync(config_id: str, svc: OperatorServices) -> Envelope[Submitted]:
    """Run one job now; `config_id` is its numeric id or its name."""
    name = svc.jobs.resolve(config_id)
    (run_id,) = svc.runs.request_many([name], trigger=Trigger.API)
    job = svc.jobs.show(name)
    return Envelope(
        data=Submitted(
            message="The sync task was submitted",
            task_id=str(run_id),
            config_id=job.id,
            status="submitted",
        )
    )


@router.post("/execute-all-enabled")
def execute_all_enabled(svc: OperatorServices) -> Envelope[SubmittedMany]:
    """Run every enabled job now, one run each."""
    names = [b.name for b in svc.jobs.briefs(enabled=True)]
    ids = svc.runs.request_many(names, trigger=Trigger.API)
    return Envelope(
        data=SubmittedMany(
            message=f"{len(ids)} sync task(s) submitted",
            task_ids=[str(i) for i in ids],
            count=len(ids),
            status="submitted",
        )
    )


@router.get("/task-result/{task_id}", responses=errors(404))
def task_result(task_id: str, svc: ViewerServices) -> Envelope[TaskResult]:
    """A run's state under Celery's names, and its result once it has ended."""
    if not (task_id.isascii() and task_id.isdigit() and len(task_id) <= 18):
        raise RunNotFound(f"No run with id {task_id!r}")
    run = svc.runs.show(int(task_id))
    ready = run.ended
    failed = ready and run.celery_state in ("FAILURE", "RETRY")
    result = (
        {
            "state": run.state.value,
            "stats": run.stats.as_dict(),
            "exit_code": run.exit_code,
            "error": run.error,
        }
        if ready
        else None
    )
    return Envelope(
        data=TaskResult(
            task_id=task_id,
            status=run.celery_state,
            ready=ready,
            successful=(run.state == "succeeded") if ready else None,
            failed=failed if ready else None,
            result=result,
            traceback=run.error if failed else None,
        )
    )
