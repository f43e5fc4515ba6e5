"""Runs a runner's threads claim at the same moment are claimed together, in one
transaction, and each still runs once (`synchub/execution/claim_groups.py`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select, text

from synchub.core.clock import FakeClock
from synchub.execution.claim_groups import ClaimGroups
from synchub.execution.executor import LocalExecutor
from synchub.execution.runner import Runner, RunnerSettings
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import claim as claims
from synchub.store import runs as run_store
from synchub.store.claim import Claim
from synchub.store.db import transaction
from synchub.store.tables import JobRow
from tests.support.kinds import ScriptedKind


def queued(svc: Services, clock: FakeClock, jobs: list[str]) -> list[int]:
    """A queued run of each job, as the scheduler leaves it for the executor."""
    runs = [svc.runs.request(job) for job in jobs]
    with transaction(svc.sessions) as session:
        assert run_store.mark_queued(session, runs, clock.now()) == set(runs)
    return runs


def until(done: Callable[[], bool]) -> None:
    """Wait for other threads to get somewhere (no time is asserted)."""
    event = threading.Event()
    for _ in range(10_000):
        if done():
            return
        event.wait(0.001)
    raise AssertionError("the threads never got there")


@contextmanager
def holding_the_claim_of(svc: Services, job: str) -> Iterator[None]:
    """Make a claim of `job`'s run wait: its job's row lock (PostgreSQL), SQLite's
    write lock."""
    with transaction(svc.sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(JobRow.id).where(JobRow.name == job).with_for_update())
        else:
            session.execute(text("UPDATE jobs SET name = name WHERE 0"))
        yield


class Arrivals(Runner):
    """The runner, counting the threads that came to claim."""

    arrived = 0
    _count = threading.Lock()

    def _claim(self, run_id: int) -> claims.ClaimOutcome:
        with self._count:
            type(self).arrived += 1
        return super()._claim(run_id)


def test_runs_due_together_are_claimed_in_few_transactions_and_each_runs_once(
    svc: Services, clock: FakeClock, scripted: ScriptedKind, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [f"j{i}" for i in range(8)]
    for job in jobs:
        svc.jobs.add(job, JobFields(kind="scripted", params={"result": "ok"}))
    runs = queued(svc, clock, jobs)
    calls: list[str] = []
    take, take_many = claims.take, claims.take_many

    def one(*args: Any, **kwargs: Any) -> claims.ClaimOutcome:
        calls.append("take")
        return take(*args, **kwargs)

    def many(*args: Any, **kwargs: Any) -> list[claims.ClaimOutcome]:
        calls.append("take_many")
        return take_many(*args, **kwargs)

    monkeypatch.setattr(claims, "take", one)
    monkeypatch.setattr(claims, "take_many", many)
    Arrivals.arrived = 0
    runner = Arrivals(
        svc.sessions, svc.engines, svc.remotes.configs, clock, "w",
        RunnerSettings(tick_s=0.02, claim_patience_s=3600),
        job_env=svc.job_env, hook_url=svc.hook_url,
    )  # fmt: skip
    pool = LocalExecutor(runner, concurrency=len(runs), queue_limits={})
    with holding_the_claim_of(svc, "j0"):
        pool.submit(runs[0], "default")
        until(lambda: Arrivals.arrived == 1)
        for run_id in runs[1:]:
            pool.submit(run_id, "default")
        until(lambda: Arrivals.arrived == len(runs))
    pool.shutdown(grace_s=30)

    assert sorted(scripted.started) == runs
    assert {svc.runs.show(r).state for r in runs} == {"succeeded"}
    # The first alone, the seven that came while it waited together (one transaction
    # each, where each run had its own).
    assert len(calls) <= 3, calls


def test_a_batch_that_fails_leaves_each_run_to_its_own_claim(
    svc: Services, clock: FakeClock
) -> None:
    for job in ("a", "b", "c"):
        svc.jobs.add(job, JobFields(kind="scripted", params={"result": "ok"}))
    first, *others = queued(svc, clock, ["a", "b", "c"])
    batches: list[list[int]] = []

    def failing(run_ids: list[int]) -> list[claims.ClaimOutcome]:
        batches.append(run_ids)
        raise RuntimeError("the batch broke")

    groups = ClaimGroups(failing, patience_s=3600)
    go = threading.Event()

    def alone(run_id: int) -> Callable[[], claims.ClaimOutcome]:
        def claim() -> claims.ClaimOutcome:
            if run_id == first:
                go.wait()
            return claims.take(svc.sessions, run_id, worker="w", clock=clock)

        return claim

    outcomes: dict[int, Claim] = {}

    def take(run_id: int) -> None:
        outcomes[run_id] = groups.take(run_id, alone(run_id))[0]

    threads = [threading.Thread(target=take, args=(first,))]
    threads[0].start()
    until(lambda: groups._claiming)
    threads += [threading.Thread(target=take, args=(r,)) for r in others]
    for t in threads[1:]:
        t.start()
    until(lambda: len(groups._waiting) == len(others))
    go.set()
    for t in threads:
        t.join()

    assert [sorted(b) for b in batches] == [sorted(others)]
    assert outcomes == dict.fromkeys([first, *others], Claim.CLAIMED)
    assert {svc.runs.show(r).state for r in [first, *others]} == {"running"}


def test_a_claim_that_waits_long_does_not_hold_up_those_that_came_after_it(
    svc: Services, clock: FakeClock
) -> None:
    """A claim under way may wait for a lock held elsewhere: the claims behind it wait
    for their turn only so long, then each is made alone."""
    for job in ("slow", "b", "c"):
        svc.jobs.add(job, JobFields(kind="scripted", params={"result": "ok"}))
    slow, *others = queued(svc, clock, ["slow", "b", "c"])
    batches: list[list[int]] = []

    def together(run_ids: list[int]) -> list[claims.ClaimOutcome]:
        batches.append(run_ids)
        return claims.take_many(svc.sessions, run_ids, worker="w", clock=clock)

    groups = ClaimGroups(together, patience_s=0.05)
    go = threading.Event()

    def alone(run_id: int) -> claims.ClaimOutcome:
        if run_id == slow:
            go.wait()
        return claims.take(svc.sessions, run_id, worker="w", clock=clock)

    outcomes: dict[int, Claim] = {}

    def take(run_id: int) -> None:
        outcomes[run_id] = groups.take(run_id, lambda: alone(run_id))[0]

    first = threading.Thread(target=take, args=(slow,))
    first.start()
    try:
        until(lambda: groups._claiming)
        behind = [threading.Thread(target=take, args=(r,)) for r in others]
        for t in behind:
            t.start()
        for t in behind:
            t.join(timeout=60)  # while the slow claim still waits
        assert outcomes == dict.fromkeys(others, Claim.CLAIMED)
    finally:
        go.set()
    first.join()

    assert outcomes[slow] is Claim.CLAIMED
    assert batches == []
