"""Limits enforced in the database claim hold across worker processes, and what a run
on a worker reports reaches the database while it runs."""

from __future__ import annotations

from itertools import combinations

from synchub.core.runs import RunState
from tests.distributed.conftest import Cluster, wait_for
from tests.support.marking import executions


def _overlaps(spans: list[tuple[float, float]]) -> list[tuple[tuple[float, float], ...]]:
    return [(a, b) for a, b in combinations(sorted(spans), 2) if b[0] < a[1]]


def test_a_remote_limit_and_a_job_queue_hold_across_two_workers(cluster: Cluster) -> None:
    cluster.svc.remotes.add("nas", "local", {}, max_concurrency=1)
    for _ in range(2):
        cluster.worker("--concurrency", "2")
    cluster.start_scheduler()
    for name in ("backup-a", "backup-b"):
        cluster.mark_job(name, seconds=0.8, remotes=["nas"], overlap="allow")
    cluster.mark_job("queued-job", seconds=0.5, overlap="queue")
    on_nas = [cluster.run(name) for name in ("backup-a", "backup-b", "backup-a", "backup-b")]
    one_job = [cluster.run("queued-job") for _ in range(3)]
    for run_id in on_nas + one_job:
        assert cluster.wait_state(run_id, timeout=90).state == "succeeded"
    done = executions(cluster.marks)
    assert _overlaps([done[r][0] for r in on_nas]) == []
    assert _overlaps([done[r][0] for r in one_job]) == []


def test_progress_and_log_of_a_run_on_a_worker_show_while_it_runs(cluster: Cluster) -> None:
    cluster.worker()
    cluster.start_scheduler()
    script = "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.5; done"
    cluster.command_job("chatty", ["sh", "-c", script])
    run_id = cluster.run("chatty")
    cluster.wait_state(run_id, RunState.RUNNING)
    first = wait_for("a log line", lambda: cluster.svc.runs.logs(run_id))
    assert first[0].message == "line 1"
    assert cluster.state(run_id) == "running"  # seen before the end, not after it
    assert cluster.wait_state(run_id).state == "succeeded"
    lines = [line.message for line in cluster.svc.runs.logs(run_id)]
    assert lines == [f"line {i}" for i in range(1, 7)]
