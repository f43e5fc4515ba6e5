"""The broker cut off (and its queue lost) while runs are queued and running: nothing
is dropped, nothing runs twice, and readiness says why while it lasts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from synchub.api.app import readiness_problems
from synchub.config import Settings
from synchub.core.runs import RunState
from synchub.execution.celery_exec import CeleryExecutor
from synchub.processes.worker import make_app
from tests.distributed.conftest import Cluster, through, wait_for
from tests.support.marking import executions
from tests.support.proxy import TcpProxy


@pytest.fixture
def cut_off(tmp_path: Path, pg_url: str, broker: str, proxy: TcpProxy) -> Iterator[Cluster]:
    c = Cluster(tmp_path, pg_url, through(broker, proxy))
    yield c
    proxy.restore()
    c.close()


def test_runs_wait_out_a_broker_outage_and_then_run_once_each(
    cut_off: Cluster, proxy: TcpProxy
) -> None:
    c = cut_off
    c.worker()
    c.start_scheduler()
    c.mark_job("long", seconds=4)
    c.mark_job("short", overlap="allow")
    running = c.run("long")
    c.wait_state(running, RunState.RUNNING)

    proxy.cut()
    during = [c.run("short") for _ in range(3)]
    problems = wait_for("readiness to fail", lambda: readiness_problems(c.svc))
    assert problems[0].startswith("broker unreachable"), problems
    # The running run goes on: its worker talks to the database, not the broker.
    assert c.wait_state(running).state == "succeeded"
    assert all(c.state(r) in ("pending", "queued") for r in during)

    proxy.restore()
    for run_id in during:
        assert c.wait_state(run_id, timeout=90).state == "succeeded"
    assert readiness_problems(c.svc) == []
    done = executions(c.marks)
    assert {r: len(done[r]) for r in [running, *during]} == dict.fromkeys([running, *during], 1)


def test_queued_runs_whose_messages_the_broker_lost_are_sent_again(cut_off: Cluster) -> None:
    c = cut_off
    c.start_scheduler()
    c.mark_job("lost-message", overlap="allow")
    queued = [c.run("lost-message") for _ in range(2)]
    for run_id in queued:
        c.wait_state(run_id, RunState.QUEUED)
    # Queued in the database comes just before the publish: purge until both are gone.
    purged = wait_for("both messages on the broker", lambda: _purge(c, 2))
    assert purged >= 2  # what a broker restart without disk does
    c.worker()
    for run_id in queued:
        assert c.wait_state(run_id, timeout=90).state == "succeeded"
    assert sorted(executions(c.marks)) == sorted(queued)
    assert all(len(v) == 1 for v in executions(c.marks).values())


def test_the_first_publish_after_a_broker_drop_goes_through(
    tmp_path: Path, broker: str, proxy: TcpProxy
) -> None:
    settings = Settings(
        home=tmp_path,
        executor="celery",
        broker_url=through(broker, proxy),
        secret_key="unused",
    )
    queue = f"drop-{uuid.uuid4().hex[:8]}"
    executor = CeleryExecutor(make_app(settings))
    try:
        executor.submit(1, queue)
        proxy.cut()  # the broker drops every connection, then comes back
        proxy.restore()
        executor.submit(2, queue)  # RabbitMQ: the pooled connection is dead; retried
        assert executor.capacity(queue) > 0
    finally:
        with Connection(broker, connect_timeout=5) as conn:
            conn.channel().queue_delete(queue)


_purged: dict[str, int] = {}


def _purge(c: Cluster, wanted: int) -> int | None:
    with Connection(c.broker, connect_timeout=5) as conn:
        try:
            channel = conn.channel()
            _purged[c.queue] = _purged.get(c.queue, 0) + (channel.queue_purge(c.queue) or 0)
        except Exception:  # not declared yet: nothing published so far
            pass
    done = _purged.get(c.queue, 0)
    return done if done >= wanted else None
