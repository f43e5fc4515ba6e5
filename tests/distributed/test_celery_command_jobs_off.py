"""A Celery worker started without SYNCHUB_ALLOW_COMMAND_JOBS runs no command job,
whatever the process that saved the job allowed. Fails on main (94cea0f): the
worker ran the command."""

from __future__ import annotations

from pathlib import Path

from tests.distributed.conftest import Cluster


def test_a_worker_without_the_flag_fails_a_command_job_and_starts_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    cluster.worker(env={"SYNCHUB_ALLOW_COMMAND_JOBS": "0"})
    cluster.start_scheduler()
    cluster.command_job("cmd", ["touch", str(marker)])
    run = cluster.wait_state(cluster.run("cmd"))
    assert (run.state, run.error) == ("failed", "command jobs are disabled on this server")
    assert run.celery_state == "FAILURE"
    assert not marker.exists()
