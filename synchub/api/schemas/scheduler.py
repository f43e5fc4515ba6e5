"""The scheduler's status."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class SchedulerStatus(BaseModel):
    leader: str | None  #: the process holding the scheduler lease
    lease_expires_at: datetime | None
    leader_alive: bool  #: the lease expires after now, by this server's clock
    this_process: str | None  #: this server's name; null when it runs no scheduler
    leading_here: bool | None
    next_wake: datetime | None  #: when this server's scheduler wakes next, if it leads
    due_not_dispatched: int  #: pending runs whose time has come
    pending: int
    queued: int
    running: int
