"""Chains and hooks through Celery workers, with PostgreSQL as the truth: a run's
end on a worker requests the chained run once, which a worker then runs; hooks run
on the worker, their output in the run's log."""

from __future__ import annotations

import sys

from tests.distributed.conftest import Cluster, wait_for


def test_a_chain_runs_through_celery_workers_once(cluster: Cluster) -> None:
    cluster.worker("--concurrency", "2")
    cluster.start_scheduler()
    cluster.command_job("extract", ["sh", "-c", "echo extracted"], retries=0)
    cluster.command_job("report", ["sh", "-c", "echo reported"], after=["extract:success"])
    cluster.command_job("cleanup", ["sh", "-c", "echo cleaned"], after=["extract:failure"])
    upstream = cluster.run("extract")
    assert cluster.wait_state(upstream).state == "succeeded"
    (chained,) = wait_for("the chained run", lambda: cluster.svc.runs.list(job="report"))
    run = cluster.wait_state(chained.id)
    assert (run.state, run.trigger, run.chained_from) == ("succeeded", "chain", upstream)
    assert "reported" in [line.message for line in cluster.svc.runs.logs(chained.id)]
    # It should start no run of the job chained on the other outcome.
    assert cluster.svc.runs.list(job="cleanup") == []


def test_hooks_run_on_the_worker_and_log_there(cluster: Cluster) -> None:
    cluster.worker()
    cluster.start_scheduler()
    hook = [sys.executable, "-c", "import os; print('hook for', os.environ['SYNCHUB_JOB'])"]
    cluster.command_job("hooked", ["sh", "-c", "echo work"], hooks={"before": [{"command": hook}]})
    run = cluster.wait_state(cluster.run("hooked"))
    assert run.state == "succeeded", run
    lines = [line.message for line in cluster.svc.runs.logs(run.id)]
    assert lines.index("[before] hook for hooked") < lines.index("work")


def test_webhooks_post_from_the_worker_with_the_url_never_logged(cluster: Cluster) -> None:
    from tests.integration.test_webhooks import TOKEN, Receiver

    receiver = Receiver()
    try:
        cluster.worker()
        cluster.start_scheduler()
        receiver.status = 500
        hooks = {"after": [{"url": receiver.url, "on_error": "fail"}]}
        cluster.command_job("hooked", ["sh", "-c", "echo work"], hooks=hooks)
        run = cluster.wait_state(cluster.run("hooked"))
        assert (run.state, run.error_class) == ("failed", "hook"), run
        assert [(b["event"], b["job"]) for b in receiver.bodies] == [("after", "hooked")]
        lines = [line.message for line in cluster.svc.runs.logs(run.id)]
        assert "after webhook http://127.0.0.1/… failed: answered HTTP 500" in lines
        assert not [line for line in lines if TOKEN in line]
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
