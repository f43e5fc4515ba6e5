"""The console's watched folders: each folder's state and problem, and the file
tasks the folders made, with Retry and Remove (what the rclone-sync-hub console
does). The rules stay in TaskService: a busy task is refused there (409)."""

from __future__ import annotations

import dataclasses
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
from synchub.services.tasks import FolderPage, TaskView
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
        after: str = "",
    ) -> HTMLResponse:
        at = Place(job, state, before, after)
        shown = _shown(visit.svc, at)
        return templates.page(
            request,
            "folders.html",
            **shown.context(),
            states=STATES,
            query=urlencode(at.params() | {"seen": shown.key()}),
        )

    @folders.get("/folders/events")
    def folder_events(
        request: Request,
        visit: VisitDep,
        job: str = "",
        state: str = "",
        before: int | None = None,
        after: str = "",
        seen: str = "",
    ) -> StreamingResponse:
        """The page's folders and tasks again whenever one of them changes (a file's
        state, its bytes in flight): the same filters, the same pages. `seen` is what
        the page showed (Shown.key), so a change made since it was drawn is sent."""
        at = Place(job, state, before, after)
        _state(state)  # a bad filter in words now, rather than an empty stream
        svc, last = console.services(request), [seen]

        def look() -> list[tuple[str, str]]:
            shown = _shown(svc, at)
            if shown.key() == last[0]:
                return []  # times said relative to now alone changed: nothing is sent
            last[0] = shown.key()
            context = {**shown.context(), "visit": request.state.visit, "now": svc.clock.now()}
            return [
                ("folders", templates.render("_folder_rows.html", live=True, **context)),
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
class Place:
    """Where the visitor is: the tasks' filters, and a page of folders and of tasks."""

    job: str  #: tasks of this folder only ("" for all)
    state: str  #: tasks in this state only ("" for all)
    before: int | None  #: tasks older than this id (a later page of them)
    after: str  #: folders named after this (a later page of them)

    def params(self, **changed: Any) -> dict[str, Any]:
        """The query string's values, those `changed` changed, empty ones left out."""
        values = dataclasses.asdict(self) | changed
        return {k: v for k, v in values.items() if v}

    def link(self, **changed: Any) -> str:
        """This page, with the filters kept and what `changed` says changed."""
        query = urlencode(self.params(**changed))
        return "/folders" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Shown:
    """What the page shows: a page of folders, and a page of tasks with its filters."""

    at: Place
    folders: FolderPage
    tasks: list[TaskView]
    total: int
    more: bool

    def context(self) -> dict[str, Any]:
        at, folders = self.at, self.folders
        return {
            "folders": folders.folders,
            "folder_total": folders.total,
            "folders_first": at.link(after="") if at.after else None,
            "folders_next": at.link(after=folders.folders[-1].job.name) if folders.more else None,
            "tasks": self.tasks,
            "total": self.total,
            "tasks_first": at.link(before=None) if at.before is not None else None,
            "tasks_next": at.link(before=self.tasks[-1].id) if self.more else None,
            "job": at.job,
            "state": at.state,
            "after": at.after,
            "back": at.link(),
        }

    def key(self) -> str:
        """A digest of what a visitor sees change: every figure but the clock's."""
        seen = repr((self.total, self.more, self.folders, self.tasks)).encode()
        return hashlib.sha256(seen).hexdigest()[:20]


def _shown(svc: Services, at: Place) -> Shown:
    folders = svc.tasks.folder_page(after=at.after or None, limit=PAGE)
    tasks, total = svc.tasks.page(
        job=at.job or None, state=_state(at.state), before_id=at.before, limit=PAGE + 1
    )
    return Shown(at, folders, tasks[:PAGE], total, len(tasks) > PAGE)


def _state(text: str) -> TaskState | None:
    if not text:
        return None
    try:
        return TaskState(text)
    except ValueError:
        raise InvalidInput(f"Bad state {text[:40]!r}: one of {', '.join(STATES)}") from None
