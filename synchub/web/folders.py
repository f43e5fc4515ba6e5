"""The console's watched folders: each folder's state and problem, and the file
tasks the folders made, with Retry and Remove (what the rclone-sync-hub console
does). The rules stay in TaskService: a busy task is refused there (409)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from anyio.to_thread import run_sync
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from synchub.core.errors import InvalidInput
from synchub.core.runs import Trigger
from synchub.core.tasks import TaskState
from synchub.services.tokens import Role
from synchub.web import console
from synchub.web.console import Templates, Visit, redirect, writer

PAGE = 50
VisitDep = Annotated[Visit, Depends(console.visit)]
STATES = [s.value for s in TaskState]


def router(templates: Templates) -> APIRouter:
    folders = APIRouter(include_in_schema=False, route_class=console.console_route(templates))

    @folders.get("/folders")
    def folders_page(
        request: Request,
        visit: VisitDep,
        job: str = "",
        state: str = "",
        before: int | None = None,
    ) -> HTMLResponse:
        svc = visit.svc
        tasks, total = svc.tasks.page(
            job=job or None, state=_state(state), before_id=before, limit=PAGE + 1
        )
        return templates.page(
            request,
            "folders.html",
            folders=svc.tasks.folders(),
            tasks=tasks[:PAGE],
            total=total,
            more=len(tasks) > PAGE,
            job=job,
            state=state,
            states=STATES,
            back=_here(job, state),
        )

    @folders.post("/folders/tasks/{task_id}/retry")
    async def retry_task(request: Request, task_id: int) -> Response:
        visit = await writer(request, Role.OPERATOR)
        task = await run_sync(visit.svc.tasks.retry, task_id, Trigger.MANUAL)
        back = console.safe_next(request.query_params.get("back"))
        said = f"File {task['path']} is sent again, alone, by run {task['run_id']}."
        return redirect(back if back.startswith("/folders") else "/folders", said)

    @folders.post("/folders/tasks/{task_id}/remove")
    async def remove_task(request: Request, task_id: int) -> Response:
        visit = await writer(request, Role.OPERATOR)
        task = await run_sync(visit.svc.tasks.show, task_id)
        await run_sync(visit.svc.tasks.remove, task_id)
        back = console.safe_next(request.query_params.get("back"))
        said = f"Task of {task['path']} removed (the file itself is untouched)."
        return redirect(back if back.startswith("/folders") else "/folders", said)

    return folders


def _state(text: str) -> TaskState | None:
    if not text:
        return None
    try:
        return TaskState(text)
    except ValueError:
        raise InvalidInput(f"Bad state {text[:40]!r}: one of {', '.join(STATES)}") from None


def _here(job: str, state: str) -> str:
    """This page with its filters, for a write to come back to."""
    query = urlencode({k: v for k, v in (("job", job), ("state", state)) if v})
    return "/folders" + (f"?{query}" if query else "")
