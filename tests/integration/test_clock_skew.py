"""Machines whose clocks disagree: a worker's heartbeat and a leader's lease are
stamped with their own clocks, and judged by how long the stamp stays the same on
the judge's clock, so an offset between the clocks changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import claim as claims
from synchub.store import heartbeats
from synchub.store.db import transaction
from tests.support.harness import Harness

HOUR = 3600.0
SKEWS = [pytest.param(-HOUR, id="an-hour-behind"), pytest.param(HOUR, id="an-hour-ahead")]


def skewed(clock: FakeClock, by_s: float) -> FakeClock:
    return FakeClock(clock.now() + timedelta(seconds=by_s))


def advance(seconds: float, *clocks: FakeClock) -> None:
    for c in clocks:
        c.advance(seconds)


@pytest.mark.parametrize("skew", SKEWS)
def test_a_skewed_worker_keeps_its_run_while_it_beats_and_loses_it_when_it_stops(
    svc: Services, clock: FakeClock, skew: float
) -> None:
    svc.jobs.add("j", JobFields(kind="scripted", params={"result": "ok"}, retries=0))
    run_id = svc.runs.request("j")
    h = Harness(svc, clock)
    h.scheduler.tick()
    assert h.executor.take() == [run_id]
    worker = skewed(clock, skew)

    def beat() -> None:
        with transaction(svc.sessions) as session:
            assert heartbeats.heartbeat(
                session, run_id, worker="far", now=worker.now(), progress=None
            ) is False  # fmt: skip

    with transaction(svc.sessions) as session:
        assert claims.claim(session, run_id, worker="far", now=worker.now())
    # It should keep the run for as long as the worker beats, whatever its clock says.
    for _ in range(6):
        advance(20, clock, worker)
        beat()
        h.scheduler.tick()
        assert svc.runs.show(run_id).state == "running"
    # The worker dies: it should lose the run a lease (30 s) after the last change the
    # scheduler saw, not an hour early or an hour late.
    advance(29, clock, worker)
    h.scheduler.tick()
    assert svc.runs.show(run_id).state == "running"
    advance(1, clock, worker)
    h.scheduler.tick()
    assert svc.runs.show(run_id).state == "lost"


@pytest.mark.parametrize("skew", SKEWS)
def test_a_skewed_follower_neither_leads_beside_the_leader_nor_waits_an_hour(
    svc: Services, clock: FakeClock, skew: float
) -> None:
    svc.jobs.add("tick", JobFields(kind="scripted", params={"result": "ok"}, every="1s"))
    a = Harness(svc, clock, "node-a")
    b = Harness(svc, skewed(clock, skew), "node-b")
    clock.advance(1)
    a.step()
    # It should leave the lead to a renewing leader, whatever the stamps say.
    for _ in range(40):
        advance(1, clock, b.clock)
        a.step()
        b.step()
        assert a.scheduler.leading and not b.scheduler.leading
    assert a.scheduler.hold_lease()  # its last renewal, seen by the follower at once
    b.step()
    # The leader dies: the follower should lead once the lease (10 s) has passed on
    # its own clock since the lease last changed.
    advance(9, clock, b.clock)
    b.step()
    assert not b.scheduler.leading
    advance(1, clock, b.clock)
    b.step()
    assert b.scheduler.leading
    fires = [r.scheduled_for for r in svc.runs.list(job="tick", limit=1000)]
    assert len(fires) == len(set(fires))
