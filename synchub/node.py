"""One synchub process's moving parts: runner, local executor and scheduler."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field

from synchub.execution.executor import LocalExecutor
from synchub.execution.runner import Runner, RunnerSettings
from synchub.scheduler.loop import Scheduler, SchedulerSettings
from synchub.services import Services

log = logging.getLogger(__name__)


def process_name() -> str:
    """host:pid:random — unique per process, readable in `runs show` and leases."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def make_runner(svc: Services, worker: str) -> Runner:
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
        ),
    )


@dataclass
class Node:
    """The embedded default: a scheduler thread feeding a local pool."""

    svc: Services
    workers: int
    name: str = field(default_factory=process_name)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        s = self.svc.settings
        self.runner = make_runner(self.svc, self.name)
        self.executor = LocalExecutor(self.runner, self.workers, s.queue_limits)
        self.scheduler = Scheduler(
            self.svc.sessions,
            self.executor,
            self.svc.clock,
            self.name,
            SchedulerSettings(
                lease_s=s.scheduler_lease,
                run_lease_s=s.run_lease,
                poll_s=s.poll_interval,
                misfire_grace_s=s.misfire_grace,
            ),
        )
        self.runner.on_end = lambda: self.scheduler.wake(full=False)
        self.svc.on_change = self.scheduler.wake
        self._thread = threading.Thread(
            target=self.scheduler.run_forever,
            args=(self.stop_event,),
            name="synchub-scheduler",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace_s: float) -> None:
        """Stop firing, let running runs finish for `grace_s`, then stop them; the
        runs stopped end as lost and are retried by policy on the next start."""
        self.stop_event.set()
        self.scheduler.wake()
        self._thread.join()
        self.executor.shutdown(grace_s)
