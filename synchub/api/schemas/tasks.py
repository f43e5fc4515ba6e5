"""File tasks of watched folders."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from synchub.services.tasks import TaskView

TaskStateName = Literal["pending", "queued", "transferring", "done", "failed"]


class TaskPublic(BaseModel):
    id: int
    job: str
    job_id: int
    path: str  #: relative to the job's source
    state: TaskStateName
    run_id: int | None  #: the run that carries it, carried it last, or will send it alone
    size: int | None  #: bytes, when known
    bytes: int  #: bytes sent so far
    percent: int | None
    speed_bps: float | None  #: while transferring
    eta_s: float | None  #: while transferring
    error: str | None  #: why it failed
    created_at: datetime  #: first seen
    seen_at: datetime  #: last change seen
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None

    @classmethod
    def of(cls, view: TaskView) -> TaskPublic:
        return cls.model_validate(view.as_dict())


class TasksPublic(BaseModel):
    data: list[TaskPublic]
    count: int  #: tasks in this page
    total: int  #: tasks matching, in all pages
    next_cursor: str | None  #: pass as `cursor` for the next page; None on the last
