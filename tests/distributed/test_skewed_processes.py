"""Machines whose clocks disagree by an hour: a worker and a standby scheduler with
their clocks set off by libfaketime, beside a scheduler on the true clock. The leases
judge a stamp by how long it stays unchanged on the judge's own clock, so the offset
changes nothing (tests/integration/test_clock_skew.py does the same with fake clocks)."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from synchub.core.runs import RunState
from tests.distributed.conftest import Cluster, wait_for
from tests.support.faketime import faketime_env
from tests.support.marking import executions

HOUR = timedelta(hours=1)
SKEWS = ["-1h", "+1h"]


def _off_by_an_hour(stamp: str) -> bool:
    """The stamp was written by a clock about an hour off: the skew took effect."""
    off = abs(datetime.fromisoformat(stamp) - datetime.now(UTC))
    return HOUR - timedelta(minutes=5) < off < HOUR + timedelta(minutes=5)


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
@pytest.mark.parametrize("skew", SKEWS)
def test_a_worker_an_hour_off_keeps_its_long_run_and_loses_it_only_when_killed(
    cluster: Cluster, skew: str
) -> None:
    worker = cluster.worker("--concurrency", "1", env=faketime_env(skew))
    cluster.start_scheduler()
    # It should keep a run three run leases (3 s each) long, beating on its own clock.
    cluster.mark_job("long", seconds=9)
    run_id = cluster.run("long")
    done = cluster.wait_state(run_id)
    assert done.state == "succeeded", done
    assert _off_by_an_hour(done.started_at), done.started_at
    assert len(executions(cluster.marks)[run_id]) == 1
    # Killed mid-run, it should lose its run within a few leases, not an hour late.
    cluster.mark_job("killed", seconds=600)
    killed = cluster.run("killed")
    cluster.wait_state(killed, RunState.RUNNING)
    os.kill(worker.pid, signal.SIGKILL)
    worker.proc.wait()
    lost = cluster.wait_state(killed, RunState.LOST, timeout=30)
    assert lost.error_class == "lost"


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["redis"], indirect=True)
@pytest.mark.parametrize("skew", SKEWS)
def test_a_standby_scheduler_an_hour_off_waits_for_the_leader_and_takes_over_when_it_dies(
    cluster: Cluster, skew: str
) -> None:
    lease = 2.0
    env = {**cluster.env, "SYNCHUB_SCHEDULER_LEASE": str(lease), "SYNCHUB_POLL_INTERVAL": "0.2"}
    leader = cluster.scheduler_process("leader", env)
    standby = None
    try:
        first = wait_for("a leader", lambda: cluster.svc.runs.scheduler_status().leader)
        assert f":{leader.pid}:" in first
        standby = cluster.scheduler_process("standby", {**env, **faketime_env(skew)})
        # It should leave the lead alone while the leader renews it: watch four leases.
        until = time.monotonic() + 4 * lease
        while time.monotonic() < until:
            assert cluster.svc.runs.scheduler_status().leader == first
            time.sleep(0.1)
        leader.kill()
        leader.wait()
        # It should take the lead within a few leases of the leader's death.
        new = wait_for(
            "the standby to lead",
            lambda: f":{standby.pid}:" in (cluster.svc.runs.scheduler_status().leader or ""),
            timeout=lease * 5,
        )
        assert new
    finally:
        for proc in (leader, standby):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
