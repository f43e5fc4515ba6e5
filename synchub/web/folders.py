"""The console's watched folders: each folder's state and problem, and the file
tasks the folders made, with Retry and Remove (what the rclone-sync-hub console
does). The rules stay in TaskService: a busy task is refused there (409)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from anyio.to_thread import run_sync
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from synchub.core.errors import InvalidInput
from synchub.core.runs import Trigger
from synchub.core.tasks import TaskState
from synchub.services import Services
from synchub.services.tasks import TaskView, WatchedFolder
from synchub.services.tokens import Role
from synchub.web import console, live
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
        shown = _shown(visit.svc, job, state, before)
        return templates.page(
            request,
            "folders.html",
            **shown.context(),
            states=STATES,
            query=urlencode(
                {k: v for k, v in (("job", job), ("state", state), ("before", before)) if v}
                | {"seen": shown.key()}
            ),
        )

    @folders.get("/folders/events")
    def folder_events(
        request: Request,
        visit: VisitDep,
        job: str = "",
        state: str = "",
        before: int | None = None,
        seen: str = "",
    ) -> StreamingResponse:
        """The page's folders and tasks again whenever one of them changes (a file's
        state, its bytes in flight): the same filters, the same page. `seen` is what
        the page showed (Shown.key), so a change made since it was drawn is sent."""
        _state(state)  # a bad filter in words now, rather than an empty stream
        svc, last = console.services(request), [seen]

        def look() -> list[tuple[str, str]]:
            shown = _shown(svc, job, state, before)
            if shown.key() == last[0]:
                return []  # times said relative to now alone changed: nothing is sent
            last[0] = shown.key()
            context = {**shown.context(), "visit": request.state.visit, "now": svc.clock.now()}
            return [
                ("folders", templates.render("_folder_rows.html", **context)),
                ("tasks", templates.render("_task_rows.html", live=True, **context)),
            ]

        return live.stream(live.ticks(request, look))

    @folders.post("/folders/tasks/{task_id}/retry")
    async def retry_task(request: Request, task_id: int) -> Response:
        visit = await writer(request, Role.OPERATOR)
        task = await run_sync(visit.svc.tasks.retry, task_id, Trigger.MANUAL)
        back = console.safe_next(request.query_params.get("back"))
        said = f"File {task.path} is sent again, alone, by run {task.run_id}."
        return redirect(back if back.startswith("/folders") else "/folders", said)

    @folders.post("/folders/tasks/{task_id}/remove")
    async def remove_task(request: Request, task_id: int) -> Response:
        visit = await writer(request, Role.OPERATOR)
        task = await run_sync(visit.svc.tasks.show, task_id)
        await run_sync(visit.svc.tasks.remove, task_id)
        back = console.safe_next(request.query_params.get("back"))
        said = f"Task of {task.path} removed (the file itself is untouched)."
        return redirect(back if back.startswith("/folders") else "/folders", said)

    return folders


@dataclass(frozen=True)
class Shown:
    """What the page shows: the folders, and a page of tasks with its filters."""

    folders: list[WatchedFolder]
    tasks: list[TaskView]
    total: int
    more: bool
    job: str
    state: str

    def context(self) -> dict[str, Any]:
        return {
            "folders": self.folders,
            "tasks": self.tasks,
            "total": self.total,
            "more": self.more,
            "job": self.job,
            "state": self.state,
            "back": _here(self.job, self.state),
        }

    def key(self) -> str:
        """A digest of what a visitor sees change: every figure but the clock's."""
        seen = repr((self.total, self.more, self.folders, self.tasks)).encode()
        return hashlib.sha256(seen).hexdigest()[:20]


def _shown(svc: Services, job: str, state: str, before: int | None) -> Shown:
    tasks, total = svc.tasks.page(
        job=job or None, state=_state(state), before_id=before, limit=PAGE + 1
    )
    return Shown(svc.tasks.folders(), tasks[:PAGE], total, len(tasks) > PAGE, job, state)


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
