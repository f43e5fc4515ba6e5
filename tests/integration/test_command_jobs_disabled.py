"""Command jobs run only where the settings of the process that runs them allow
them: a command job saved where they were allowed, run by a server or worker
without SYNCHUB_ALLOW_COMMAND_JOBS, ends failed and starts nothing.

Each test here was run against main's code (94cea0f) and failed there: the command ran.
"""

from __future__ import annotations

import sys
from pathlib import Path

from synchub.core.clock import FakeClock
from synchub.execution.executor import LocalExecutor
from synchub.processes.runners import make_runner
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from tests.support.harness import Harness


def run_once(svc: Services, clock: FakeClock, job: str) -> RunView:
    run_id = svc.runs.request(job)
    Harness(svc, clock).step()
    return svc.runs.show(run_id)


def writes(marker: Path) -> JobFields:
    return JobFields(
        kind="command", params={"argv": [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]}
    )


def test_a_command_job_run_where_command_jobs_are_off_fails_and_starts_nothing(
    svc: Services, svc_allowing_commands: Services, clock: FakeClock, tmp_path: Path
) -> None:
    """A job saved where they were allowed, run by a process whose settings do not
    allow them. Fails on main: the command ran."""
    marker = tmp_path / "ran"
    svc_allowing_commands.jobs.add("cmd", writes(marker))
    run = run_once(svc, clock, "cmd")
    assert run.state == "failed"
    assert run.error == "command jobs are disabled on this server"
    assert run.error_class == "config"
    assert not marker.exists()
    # It should run where they are allowed (the test's control).
    assert run_once(svc_allowing_commands, clock, "cmd").state == "succeeded"
    assert marker.exists()


def test_the_local_pool_of_a_server_without_the_flag_starts_no_command(
    svc: Services, svc_allowing_commands: Services, clock: FakeClock, tmp_path: Path
) -> None:
    """The real local executor, with the runner `serve` makes from its settings. Fails
    on main: the command ran."""
    marker = tmp_path / "ran"
    svc_allowing_commands.jobs.add("cmd", writes(marker))
    run_id = svc.runs.request("cmd")
    h = Harness(svc, clock)
    h.scheduler.tick()
    assert h.executor.take() == [run_id]
    pool = LocalExecutor(make_runner(svc, "pool-without-flag"), concurrency=2, queue_limits={})
    pool.submit(run_id, "default")
    pool.shutdown(grace_s=30)
    run = svc.runs.show(run_id)
    assert (run.state, run.error) == ("failed", "command jobs are disabled on this server")
    assert not marker.exists()
