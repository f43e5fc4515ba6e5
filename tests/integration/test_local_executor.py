"""The local pool: bounded, per-queue limits, graceful shutdown."""

from __future__ import annotations

from synchub.core.clock import FakeClock
from synchub.execution.executor import LocalExecutor
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from tests.support.harness import Harness
from tests.support.kinds import ScriptedKind


def queued_run(svc: Services, h: Harness, job: str) -> int:
    run_id = svc.runs.request(job)
    h.scheduler.tick()
    assert h.executor.take() == [run_id]
    return run_id


def test_the_pool_honours_its_size_and_per_queue_limits(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    svc.jobs.add("s1", JobFields(kind="scripted", params={"result": "block"}, queue="slow"))
    h = Harness(svc, clock)
    pool = LocalExecutor(h.runner, concurrency=3, queue_limits={"slow": 1})
    assert pool.capacity("slow") == 1
    pool.submit(queued_run(svc, h, "s1"), "slow")
    assert scripted.running.acquire(timeout=10)
    # It should refuse more of the limited queue, and still take other queues.
    assert pool.capacity("slow") == 0
    assert pool.capacity("default") == 2
    scripted.release.set()
    pool.shutdown(grace_s=10)
    assert pool.capacity("default") == 0


def test_shutdown_stops_runs_past_the_grace_and_they_are_retried(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    svc.jobs.add("long", JobFields(kind="scripted", params={"result": "block"}, retries=1))
    h = Harness(svc, clock)
    pool = LocalExecutor(h.runner, concurrency=2, queue_limits={})
    run_id = queued_run(svc, h, "long")
    pool.submit(run_id, "default")
    assert scripted.running.acquire(timeout=10)
    pool.shutdown(grace_s=0.05)
    run = svc.runs.show(run_id)
    assert run.state == "lost"
    assert run.celery_state == "RETRY"
    assert svc.runs.list(job="long")[0].trigger == "retry"
