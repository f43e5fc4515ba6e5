"""A process's name and its runner, the same in every process that executes runs: the
local pool of `serve`, each Celery worker process and `job run --wait`."""

from __future__ import annotations

import os
import socket
import uuid

from synchub.execution.runner import Runner, RunnerSettings
from synchub.services import Services


def process_name() -> str:
    """host:pid:random — unique per process, readable in `runs show` and leases."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def make_runner(svc: Services, worker: str, *, end_behind: bool = False) -> Runner:
    s = svc.settings
    return Runner(
        svc.sessions,
        svc.engines,
        svc.remotes.configs,
        svc.clock,
        worker,
        RunnerSettings(
            run_lease_s=s.run_lease,
            tick_s=min(1.0, s.run_lease / 3),
            log_cap_bytes=s.log_cap_bytes,
            file_report_cap=s.file_report_cap,
            end_behind=end_behind,
            allow_programs=s.allow_command_jobs,
            kill_grace=s.kill_grace,
        ),
        job_env=svc.job_env,
        hook_url=svc.hook_url,
    )
