"""Three `synchub scheduler` processes racing over every-second jobs, and the leader
killed halfway: one run per (job, fire time), none missing, a new leader within the
lease."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from synchub.services.jobs.fields import JobFields
from tests.distributed.conftest import Cluster, wait_for

SECONDS = float(os.environ.get("SYNCHUB_RACE_SECONDS", "30"))
LEASE = 2


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_three_schedulers_fire_each_second_once_through_a_leader_kill(cluster: Cluster) -> None:
    jobs = [f"tick-{i}" for i in range(3)]
    for name in jobs:
        cluster.svc.jobs.add(
            name,
            JobFields(kind="mark", params={"marks": str(cluster.marks)}, every="1s",
                      queue=cluster.queue),
        )  # fmt: skip
    env = {**cluster.env, "SYNCHUB_SCHEDULER_LEASE": str(LEASE), "SYNCHUB_POLL_INTERVAL": "0.2"}
    procs = [cluster.scheduler_process(str(i), env) for i in range(3)]
    try:
        first = wait_for("a leader", lambda: cluster.svc.runs.scheduler_status().leader)
        time.sleep(SECONDS / 2)
        leader = cluster.svc.runs.scheduler_status().leader
        victim = next(p for p in procs if f":{p.pid}:" in leader)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        killed_at = time.monotonic()
        new = wait_for("a new leader", lambda: _other_leader(cluster, leader), timeout=LEASE * 5)
        took_over_s = time.monotonic() - killed_at
        time.sleep(SECONDS / 2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(15)
    assert first and new != leader
    print(f"took over in {took_over_s:.2f} s (lease {LEASE} s)")
    for name in jobs:
        runs = cluster.svc.runs.list(job=name, limit=1000)
        fires = sorted(datetime.fromisoformat(r.scheduled_for) for r in runs)
        assert len(fires) >= SECONDS * 0.8, f"{name}: only {len(fires)} fires"
        assert len(set(fires)) == len(fires), f"{name}: a fire time ran twice"
        gaps = [b - a for a, b in pairwise(fires) if b - a != timedelta(seconds=1)]
        assert gaps == [], f"{name}: fire times missing around the takeover: {gaps}"


def _other_leader(cluster: Cluster, old: str) -> str | None:
    status = cluster.svc.runs.scheduler_status()
    leader = status.leader
    return leader if leader and leader != old and status.leader_alive else None
