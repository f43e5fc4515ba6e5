"""/api/v1/tasks: the files watched folders must transfer; retry one file, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from synchub.api.deps import OperatorServices, ViewerServices
from synchub.api.pagination import decode_cursor, encode_cursor
from synchub.api.params import MAX_ID, Cursor, Limit
from synchub.api.problems import problem_responses as errors
from synchub.api.schemas.tasks import TaskPublic, TasksPublic, TaskStateName
from synchub.core.runs import Trigger
from synchub.core.tasks import TaskState

router = APIRouter(prefix="/tasks", tags=["tasks"], responses=errors(401, 403))

TaskId = Annotated[int, Path(ge=1, le=MAX_ID, description="the task's id")]


@router.get("", responses=errors(422))
def list_tasks(
    svc: ViewerServices,
    job: Annotated[str | None, Query(min_length=1, description="a watched job's name")] = None,
    state: Annotated[TaskStateName | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> TasksPublic:
    """File tasks newest first; follow `next_cursor` for older ones."""
    views, total = svc.tasks.page(
        job=job,
        state=None if state is None else TaskState(state),
        before_id=decode_cursor(cursor),
        limit=limit,
    )
    data = [TaskPublic.of(v) for v in views]
    next_cursor = encode_cursor(data[-1].id) if len(data) == limit else None
    return TasksPublic(data=data, count=len(data), total=total, next_cursor=next_cursor)


@router.get("/{task_id}", responses=errors(404, 422))
def show_task(task_id: TaskId, svc: ViewerServices) -> TaskPublic:
    return TaskPublic.of(svc.tasks.show(task_id))


@router.post(
    "/{task_id}/retry", status_code=status.HTTP_202_ACCEPTED, responses=errors(404, 409, 422)
)
def retry_task(task_id: TaskId, svc: OperatorServices) -> TaskPublic:
    """Send this one file again, in a run of its own (`rclone copyto`); the task is
    queued until it starts. 409 while it is queued or transferring."""
    return TaskPublic.of(svc.tasks.retry(task_id, Trigger.API))


@router.delete(
    "/{task_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404, 409, 422)
)
def delete_task(task_id: TaskId, svc: OperatorServices) -> Response:
    """Forget a task (not the file). 409 while it is queued or transferring."""
    svc.tasks.remove(task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
