"""File tasks: each file a watched folder must transfer, from seen to done or failed.

A task is seen (by the watcher, or when a run starts transferring it), carried by
the next run of its job, and ends done or failed from that run's change report or
its end. It is not a second bookkeeping: every state after `pending` comes from a
run.

    pending ──▶ queued ──▶ transferring ──▶ done
       ▲           (a run        │      └──▶ failed ──▶ (retry: one file) queued
       └───────────  waits)      └── the run cancelled: pending again
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    PENDING = "pending"  #: seen; no run will carry it yet
    QUEUED = "queued"  #: a run that will carry it waits (derived, not stored)
    TRANSFERRING = "transferring"  #: a running run is sending it
    DONE = "done"  #: at the destination
    FAILED = "failed"  #: its run failed to send it

    @property
    def busy(self) -> bool:
        """Queued or transferring: a retry now would send it twice."""
        return self in (TaskState.QUEUED, TaskState.TRANSFERRING)
