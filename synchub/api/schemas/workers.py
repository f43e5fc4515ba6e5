"""Where runs can go: the local pool or the Celery workers, and the queues they serve."""

from __future__ import annotations

from pydantic import BaseModel


class Worker(BaseModel):
    name: str
    kind: str  #: "local" (this server's pool) or "celery"
    queues: list[str]  #: ["*"] for the local pool, which takes every queue
    concurrency: int | None
    active: list[int]  #: ids of the runs running there now
    version: str | None = None  #: its synchub version; None: it does not say (older)


class QueueState(BaseModel):
    queue: str
    waiting: int  #: runs pending or queued
    served: bool  #: some worker listens on it


class Workers(BaseModel):
    executor: str  #: "local" or "celery"
    workers: list[Worker]
    queues: list[QueueState]
    warnings: list[str]  #: e.g. runs waiting on a queue no worker listens on
