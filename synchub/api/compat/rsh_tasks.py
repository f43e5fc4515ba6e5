"""The rclone-sync-hub console's dashboard, folders and tasks over synchub's watched
jobs and file tasks: `/info/`, `/folders/`, `/tasks/` (trailing slashes as the
console sends them). A folder is a watched job; a task is a file task. These routes
translate; the rules are the services'.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Body, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from synchub.api.compat.rsh_query import Condition, parse_query
from synchub.api.deps import OperatorServices, ViewerServices
from synchub.api.problems import message_responses as errors
from synchub.core.errors import BadQuery, InvalidInput, JobNotFound, TaskNotFound
from synchub.core.runs import Trigger
from synchub.core.tasks import TaskState
from synchub.engines.rclone.params import parse_location
from synchub.services import folders
from synchub.services.jobs.job_views import JobView
from synchub.services.tasks import TaskView, WatchedFolder

router = APIRouter()

#: The console's task status numbers.
STATUS = {
    TaskState.PENDING: 0,
    TaskState.QUEUED: 1,
    TaskState.TRANSFERRING: 2,
    TaskState.DONE: 3,
    TaskState.FAILED: 4,
}
BY_STATUS = {number: state for state, number in STATUS.items()}
#: A folder's status when it is not watched now (the console names 0, 1 and 2 only).
NOT_WATCHED = 3
FOLDER_FIELDS: Mapping[str, type] = {"name": str, "syncType": str, "origin": str, "status": int}
TASK_FIELDS: Mapping[str, type] = {"status": int, "fileName": str, "name": str}

PageNo = Annotated[int, Query(ge=1, le=1_000_000, description="1 for the first page")]
PerPage = Annotated[int, Query(ge=1, le=100, description="items per page, at most 100")]
QueryText = Annotated[
    str | None, Query(description='a JSON object, e.g. {"status": 3, "name": {"$regex": "x"}}')
]


def conditions(text: str | None, fields: Mapping[str, type]) -> list[Condition]:
    """The query's conditions; a 400 with the parser's message when it is not one."""
    try:
        return parse_query(text, fields)
    except BadQuery as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, exc.message) from None


def listing(items: list[dict[str, Any]], total: int, page: int, per_page: int) -> dict[str, Any]:
    return {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total_items": total,
        "total_pages": (total + per_page - 1) // per_page,
    }


# -- the dashboard -----------------------------------------------------------------


@router.get("/info/")
def info(svc: ViewerServices) -> dict[str, Any]:
    """Folders, files sending / waiting / sent (ever: deleting tasks does not lower
    it), the last 10 files to end, and files seen (`add`) and sent (`success`) on
    each of the last 7 days (server's zone)."""
    counts = svc.tasks.counts()
    days = svc.tasks.daily(7, server_zone())
    return {
        "folders": len(svc.jobs.watched()),
        "uploaded": counts[TaskState.TRANSFERRING],
        "toBeUploaded": counts[TaskState.PENDING] + counts[TaskState.QUEUED],
        "success": svc.tasks.files_sent(),
        "logs": [_activity(t) for t in svc.tasks.recent(10)],
        "final_result": [{"date": d.date, "add": d.added, "success": d.done} for d in days],
    }


def _activity(task: TaskView) -> dict[str, Any]:
    if task.state is TaskState.DONE:
        what = f"sent {task.path} ({human_size(task.size)})"
    else:
        what = f"{task.path} failed: {task.error or 'no message'}"
    return {
        "_id": str(task.id),
        "created_at": task.finished_at,
        "name": task.job,
        "description": what,
    }


def server_zone() -> tzinfo:
    """This server's time zone: $TZ, else /etc/localtime, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    try:
        if name:
            return ZoneInfo(name)
        with open("/etc/localtime", "rb") as file:
            return ZoneInfo.from_file(file)
    except (OSError, ValueError, ZoneInfoNotFoundError):
        return UTC


# -- folders: watched jobs -----------------------------------------------------------


@router.get("/folders/", responses=errors(400))
def list_folders(
    svc: ViewerServices, page: PageNo = 1, per_page: PerPage = 10, query: QueryText = None
) -> dict[str, Any]:
    """Watched folders, oldest first: status 1 a run is scanning it, 2 watching, 3
    not watched now: its folder is missing or unreadable, or the job is disabled
    (`problem` says which, and `localPath`, which the console shows, says it too)."""
    wanted = conditions(query, FOLDER_FIELDS)
    items = [folder_item(v) for v in svc.tasks.folders()]
    items = [i for i in items if all(c.matches(i[c.field]) for c in wanted)]
    start = (page - 1) * per_page
    return listing(items[start : start + per_page], len(items), page, per_page)


def folder_item(folder: WatchedFolder) -> dict[str, Any]:
    view = folder.job
    source, destination = (
        _location(view.params["source"]),
        _location(view.params["destination"]),
    )
    remote_source = source[0] is not None
    problem = view.watch_problem or (None if view.enabled else "the job is disabled")
    local_path = "None" if remote_source else source[1]
    if folder.running:
        state = 1
    elif problem is not None:
        # Not 0, which the console shows as "waiting to detect files": it shows no
        # word for 3, and the problem next to the path.
        state = NOT_WATCHED
        local_path = f"{local_path} (not watched: {problem})"
    else:
        state = 2
    return {
        "_id": str(view.id),
        "id": str(view.id),
        "name": view.name,
        "syncType": "remote" if remote_source else "local",
        "originPath": view.params["source"] if remote_source else "None",
        "localPath": local_path,
        "origin": destination[0] or "local",
        "remotePath": destination[1],
        "maxDepth": view.max_depth,
        "uploadNum": folder.files_sent,
        "created_at": view.created_at,
        "lastSyncAt": folder.last_run_at,
        "status": state,
        "problem": problem,
    }


def _location(text: str) -> tuple[str | None, str]:
    place = parse_location(text)
    return place.remote, place.path


class NewFolder(BaseModel):
    """The console's "add folder" form; other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    syncType: Literal["local", "remote"]
    name: str = Field(min_length=1, max_length=64)
    origin: str = Field(min_length=1, max_length=64, description="the destination remote")
    remotePath: str = Field(default="", max_length=4096)
    maxDepth: int | None = Field(default=None, ge=-1, le=1000)
    localPath: str | None = Field(default=None, max_length=4096)
    originPath: str | None = Field(default=None, max_length=4096)

    def folder(self) -> folders.NewFolder:
        chosen = self.localPath if self.syncType == "local" else self.originPath
        if chosen is None or chosen in ("", "None"):
            field = "localPath" if self.syncType == "local" else "originPath"
            raise InvalidInput(f"{field} is needed for a {self.syncType} folder")
        depth = self.maxDepth if self.maxDepth is not None and self.maxDepth > 0 else None
        return folders.NewFolder(
            name=self.name,
            origin=self.origin,
            remote_path=self.remotePath,
            local_path=chosen if self.syncType == "local" else None,
            remote_source=chosen if self.syncType == "remote" else None,
            max_depth=depth,
        )


@router.post("/folders/", status_code=status.HTTP_201_CREATED, responses=errors(400, 403, 409, 413))
def create_folder(body: NewFolder, svc: OperatorServices) -> dict[str, Any]:
    """A watched folder: a watched job copying its source to `origin:remotePath`.
    `localPath` must be a directory inside the browse roots (403 otherwise, or when
    none are set); `origin` a remote of synchub's, `remotePath` a path that does not
    climb above it (400 otherwise). A remote source needs an admin. `maxDepth` 0 or
    less (or none) scans every level."""
    try:
        made = svc.folders.add(body.folder())
    except InvalidInput as exc:  # the console's form errors are 400s
        raise HTTPException(status.HTTP_400_BAD_REQUEST, exc.message) from None
    (folder,) = [f for f in svc.tasks.folders() if f.job.id == made.id]
    return folder_item(folder)


@router.delete("/folders/{folder_id}", responses=errors(403, 404, 409))
def delete_folder(folder_id: str, svc: OperatorServices) -> dict[str, Any]:
    """Delete a watched folder: its job and its tasks go, its runs stay as history.
    One whose source is not inside the browse roots needs an admin."""
    if not folder_id.isascii() or not folder_id.isdigit() or len(folder_id) > 18:
        raise JobNotFound(f"No watched folder with id {folder_id!r}")
    name = svc.folders.remove(int(folder_id))
    return {"message": f"folder {name} deleted"}


# -- tasks: file tasks -----------------------------------------------------------------


@router.get("/tasks/", responses=errors(400))
def list_tasks(
    svc: ViewerServices, page: PageNo = 1, per_page: PerPage = 10, query: QueryText = None
) -> dict[str, Any]:
    """File tasks, newest first. `query` takes `status` (0 pending, 1 queued, 2
    uploading, 3 done, 4 failed) and `fileName` / `name` (the folder) as a string
    or {"$regex": ...}."""
    wanted = conditions(query, TASK_FIELDS)
    state: TaskState | None = None
    text_conditions: list[Condition] = []
    for condition in wanted:
        if condition.field != "status":
            text_conditions.append(condition)
        elif condition.pattern is not None or condition.value not in BY_STATUS:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "status must be 0, 1, 2, 3 or 4")
        else:
            state = BY_STATUS[int(condition.value)]

    def match(path: str, job: str) -> bool:
        actual = {"fileName": path, "name": job}
        return all(c.matches(actual[c.field]) for c in text_conditions)

    views, total = svc.tasks.page(
        state=state,
        match=match if text_conditions else None,
        offset=(page - 1) * per_page,
        limit=per_page,
    )
    jobs = {v.id: v for v in svc.jobs.watched()}
    return listing([task_item(t, jobs.get(t.job_id)) for t in views], total, page, per_page)


def task_item(task: TaskView, job: JobView | None) -> dict[str, Any]:
    source = destination = ""
    if job is not None:
        source, destination = job.params["source"], job.params["destination"]
    remote, remote_path = _location(destination) if destination else (None, "")
    sending = task.state is TaskState.TRANSFERRING
    return {
        "_id": str(task.id),
        "id": str(task.id),
        "name": task.job,
        "fileName": task.path,
        "localPath": _joined(source, task.path),
        "origin": remote or "local",
        "remotePath": _joined(remote_path, os.path.dirname(task.path)),
        "created_at": task.created_at,
        "status": STATUS[task.state],
        "startedAt": task.started_at,
        "finishedAt": task.finished_at,
        "speed": f"{task.speed_bps / 2**20:.2f} MiB/s" if sending and task.speed_bps else "",
        "progress": "" if task.percent is None else f"{task.percent}%",
        "duration": "" if task.duration_s is None else f"{task.duration_s:.1f}s",
        "total": human_size(task.size),
        "logs": _logs(task),
    }


def _joined(base: str, path: str) -> str:
    if not path:
        return base
    return path if not base else base.rstrip("/") + "/" + path


def _logs(task: TaskView) -> str:
    """A line or two: what happened to the file, never a whole run's log."""
    run = f"run {task.run_id}" if task.run_id is not None else "no run yet"
    lines = [f"{task.state.value} ({run})"]
    if task.error:
        lines.append(task.error[:1000])
    return "\n".join(lines)


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@router.delete("/tasks/{task_id}", responses=errors(404, 409))
def delete_task(task_id: str, svc: OperatorServices) -> dict[str, Any]:
    """Forget a task (not the file); 409 while it is queued or uploading."""
    svc.tasks.remove(_task_id(task_id))
    return {"message": f"task {task_id} deleted"}


@router.put("/tasks/{task_id}", responses=errors(400, 404, 409, 413))
def retry_task(
    task_id: str, svc: OperatorServices, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """The console's "retry": the row sent back with `status: 0`. Only that is read:
    the file is sent again alone; every other field is ignored. 409 while it is
    queued or uploading."""
    if body.get("status") != 0 or isinstance(body.get("status"), bool):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "only a retry can be asked here: send status 0"
        )
    view = svc.tasks.retry(_task_id(task_id), Trigger.API)
    jobs = {v.id: v for v in svc.jobs.watched()}
    return task_item(view, jobs.get(view.job_id))


def _task_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise TaskNotFound(f"No task with id {text!r}")
    return int(text)
