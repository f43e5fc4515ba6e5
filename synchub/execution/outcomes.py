"""Ending a run, and the retry policy's next attempt, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from synchub.core.policies import RetryPolicy
from synchub.core.runs import RETRYABLE, RunState
from synchub.store import jobs as job_store
from synchub.store import runs as run_store
from synchub.store import tasks as task_store


@dataclass(frozen=True)
class Ending:
    """What `end_run` did to a run."""

    moved: bool  #: False: the run was not in an expected state (someone else ended it)
    retry_id: int | None = None  #: the retry the policy created, if any


NOT_MOVED = Ending(moved=False)
ENDED = Ending(moved=True)


def end_run(
    session: Session,
    run_id: int,
    state: RunState,
    *,
    now: datetime,
    expected: Sequence[RunState] = (RunState.RUNNING,),
    permanent: bool = False,
    tasks: bool = True,
    **values: Any,
) -> Ending:
    """Move a run to terminal `state` and, when the policy says so, create its retry.

    `tasks`: the run may carry a watched folder's file tasks (False saves the look).
    """
    if not run_store.move(session, run_id, state, expected=expected, finished_at=now, **values):
        return NOT_MOVED
    if tasks and RunState.RUNNING in expected:
        task_store.settle(session, run_id, state, now)
    if ends_alone(state, permanent=permanent):
        return ENDED  # the common case costs one UPDATE
    # Only fields the move did not change are read: a stale identity map is harmless.
    run = run_store.get(session, run_id)
    assert run is not None
    # A kept run whose job was deleted has no policy to follow, and no job to retry.
    job = None if run.job_id is None else job_store.get_by_id(session, run.job_id)
    if job is None:
        return ENDED
    policy = RetryPolicy(retries=job.retries, delay_s=job.retry_delay_s)
    if not policy.should_retry(state, run.attempt, permanent=permanent):
        return ENDED
    delay = timedelta(seconds=policy.delay(run.attempt))
    retry_id = run_store.create_retry(session, run, job, now=now, not_before=now + delay)
    return Ending(moved=True, retry_id=retry_id)


def ends_alone(state: RunState, *, permanent: bool) -> bool:
    """Whether ending a run in `state` is its move alone: no retry to create. (File
    tasks to settle and buffered lines to write are the caller's to know.)"""
    return state not in RETRYABLE or permanent
