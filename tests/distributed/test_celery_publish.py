"""The scheduler hands a pass's runs to the broker through one producer: on Redis in
one pipeline (a round trip for the pass, not one per run). Every run's message
arrives, a run fired ahead with its fire time; the runs of a refused publish go back
to pending."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from kombu import Connection

from synchub.config import Settings
from synchub.core.clock import FakeClock
from synchub.execution.celery_exec import TASK, CeleryExecutor
from synchub.processes.worker import make_app
from synchub.scheduler.loop import Scheduler, SchedulerSettings
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from tests.distributed.conftest import through
from tests.support.proxy import TcpProxy

RUNS = 120


@pytest.fixture
def queue(broker: str) -> Iterator[str]:
    name = f"publish-{uuid.uuid4().hex[:8]}"
    yield name
    with Connection(broker, connect_timeout=5) as conn:
        conn.channel().queue_delete(name)


def scheduler(svc: Services, clock: FakeClock, broker_url: str) -> Scheduler:
    app = make_app(Settings(home=svc.settings.home, executor="celery", broker_url=broker_url))
    return Scheduler(
        svc.sessions, CeleryExecutor(app), clock, "node-a",
        SchedulerSettings(lease_s=10, run_lease_s=30, poll_s=1, misfire_grace_s=60),
    )  # fmt: skip


def pending_runs(svc: Services, queue: str, n: int) -> list[int]:
    svc.jobs.add("many", JobFields(kind="scripted", params={}, overlap="allow", queue=queue))
    return [svc.runs.request("many") for _ in range(n)]


def messages(broker: str, queue: str) -> list[Any]:
    """The messages on `queue`, taken off it."""
    found = []
    with Connection(broker, connect_timeout=5) as conn, conn.SimpleQueue(queue) as q:
        while True:
            try:
                message = q.get(timeout=1)
            except q.Empty:
                return found
            found.append(message)
            message.ack()


def test_a_pass_of_runs_arrives_whole(
    svc: Services, clock: FakeClock, broker: str, queue: str
) -> None:
    ids = pending_runs(svc, queue, RUNS)
    s = scheduler(svc, clock, broker)
    assert s.dispatch() == RUNS
    s.executor.submit(ids[0], queue, clock.now() + timedelta(seconds=5))  # fired ahead
    got = messages(broker, queue)
    assert sorted(int(m.headers["id"]) for m in got) == sorted([*ids, ids[0]])
    assert {m.headers["task"] for m in got} == {TASK}
    args, kwargs, _ = got[-1].decode()
    assert args == [ids[0]] and set(kwargs) == {"at"}
    assert {svc.runs.show(r).state for r in ids} == {"queued"}


def test_redis_takes_a_pass_in_one_round_trip(
    svc: Services, clock: FakeClock, broker: str, proxy: TcpProxy, queue: str
) -> None:
    if not broker.startswith("redis"):
        pytest.skip("RabbitMQ answers no publish (no confirms): nothing to batch")
    pending_runs(svc, queue, RUNS)
    s = scheduler(svc, clock, through(broker, proxy))
    s.executor.submit(0, queue)  # the connection made and the queue's binding known
    before = proxy.answers
    assert s.dispatch() == RUNS
    # One per run, one by one; a few for the pipeline, whose answer arrives in as many
    # parts as the broker and the network cut it into.
    assert proxy.answers - before < RUNS // 4, proxy.answers - before
    assert len(messages(broker, queue)) == RUNS + 1


def test_the_runs_of_a_refused_publish_go_back_to_pending(
    svc: Services, clock: FakeClock, broker: str, proxy: TcpProxy, queue: str
) -> None:
    ids = pending_runs(svc, queue, 5)
    s = scheduler(svc, clock, through(broker, proxy))
    proxy.cut()
    s.dispatch()
    assert {svc.runs.show(r).state for r in ids} == {"pending"}
    assert s.executor.capacity(queue) == 0  # it backs off before trying again
    proxy.restore()
