"""Ending a run, and the retry policy's next attempt, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from synchub.core.chains import choices_for
from synchub.core.policies import RetryPolicy
from synchub.core.runs import RETRYABLE, RunState, Trigger, not_retried_note
from synchub.store import chains as chain_store
from synchub.store import jobs as job_store
from synchub.store import runs as run_store
from synchub.store import tasks as task_store
from synchub.store import windows as window_store


@dataclass(frozen=True)
class Ending:
    """What `end_run` did to a run."""

    moved: bool  #: False: the run was not in an expected state (someone else ended it)
    retry_id: int | None = None  #: the retry the policy created, if any
    #: the runs of jobs chained on this one that its end requested (`--after`)
    chained: tuple[int, ...] = ()


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
    chains: bool = True,
    **values: Any,
) -> Ending:
    """Move a run to terminal `state` and, when the policy says so, create its retry.
    The run's `next_step` says which: the retry's attempt and time, or why none.
    When no retry follows, its retry chain has ended: the runs of jobs chained on
    its job for that outcome are requested (`--after`), once.

    `tasks`: the run may carry a watched folder's file tasks (False saves the look).
    `chains`: a job may run after the run's job (False, as its claim found, saves the
    look for the jobs to request).
    """
    if ends_alone(state, permanent=permanent):
        if state in RETRYABLE:
            values.setdefault("next_step", not_retried_note(values.get("error_class")))
        # The common case costs one UPDATE.
        return _move(session, run_id, state, now, expected, (tasks, chains), values)
    # Only fields the move does not change are read: a stale identity map is harmless.
    run = run_store.get(session, run_id)
    if run is None:
        return NOT_MOVED
    # A kept run whose job was deleted has no policy to follow, and no job to retry.
    job = None if run.job_id is None else job_store.get_by_id(session, run.job_id)
    if job is None:
        values["next_step"] = "not retried: its job was removed"
        return _move(session, run_id, state, now, expected, (tasks, chains), values)
    policy = RetryPolicy(retries=job.retries, delay_s=job.retry_delay_s)
    if not policy.should_retry(state, run.attempt, permanent=permanent):
        values["next_step"] = (
            "not retried: the job has --retries 0"
            if job.retries == 0
            else f"not retried: attempt {run.attempt} was the last (--retries {job.retries})"
        )
        return _move(session, run_id, state, now, expected, (tasks, chains), values)
    backoff = now + timedelta(seconds=policy.delay(run.attempt))
    not_before = window_store.not_before(job, Trigger.RETRY.value, backoff)  # its window
    values["next_step"] = (
        f"retry {run.attempt} of {job.retries} (attempt {run.attempt + 1}) "
        f"at {not_before.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    )
    if not run_store.move(session, run_id, state, expected=expected, finished_at=now, **values):
        return NOT_MOVED
    if tasks and RunState.RUNNING in expected:
        task_store.settle(session, run_id, state, now)
    retry_id = run_store.create_retry(session, run, job, now=now, not_before=not_before)
    return Ending(moved=True, retry_id=retry_id)


def _move(
    session: Session,
    run_id: int,
    state: RunState,
    now: datetime,
    expected: Sequence[RunState],
    looks: tuple[bool, bool],
    values: dict[str, Any],
) -> Ending:
    """The move with no retry after it; `looks`: (tasks, chains), as `end_run`'s."""
    tasks, chains = looks
    if not run_store.move(session, run_id, state, expected=expected, finished_at=now, **values):
        return NOT_MOVED
    if tasks and RunState.RUNNING in expected:
        task_store.settle(session, run_id, state, now)
    if not chains:
        return ENDED
    # No retry follows this move (callers create it after): the chain's end.
    chained = chain_store.request_after(session, run_id, choices_for(state), now=now)
    return Ending(moved=True, chained=tuple(chained)) if chained else ENDED


def ends_alone(state: RunState, *, permanent: bool) -> bool:
    """Whether ending a run in `state` is its move alone: no retry to create. (File
    tasks to settle and buffered lines to write are the caller's to know.)"""
    return state not in RETRYABLE or permanent
