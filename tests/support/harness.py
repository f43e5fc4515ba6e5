"""A scheduler and runner wired over real databases, stepped by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from synchub.core.clock import FakeClock
from synchub.execution.executor import WorkerInfo
from synchub.execution.runner import Runner, RunnerSettings
from synchub.scheduler.loop import Scheduler, SchedulerSettings
from synchub.services import Services


@dataclass
class CollectingExecutor:
    """An executor that only collects what it is given; the test runs it."""

    slots: int = 100
    submitted: list[int] = field(default_factory=list)
    #: the start time each run fired ahead was handed over with
    starts: dict[int, datetime] = field(default_factory=dict)

    def capacity(self, queue: str) -> int:
        return self.slots - len(self.submitted)

    def submit(self, run_id: int, queue: str, at: datetime | None = None) -> None:
        self.submitted.append(run_id)
        if at is not None:
            self.starts[run_id] = at

    def in_flight(self) -> set[int]:
        return set(self.submitted)

    def shutdown(self, grace_s: float) -> None:
        self.submitted.clear()

    def describe(self) -> list[WorkerInfo]:
        return []

    def take(self) -> list[int]:
        taken, self.submitted = self.submitted, []
        return taken


@dataclass
class Harness:
    svc: Services
    clock: FakeClock
    name: str = "node-a"
    executor: CollectingExecutor = field(default_factory=CollectingExecutor)

    def __post_init__(self) -> None:
        self.scheduler = Scheduler(
            self.svc.sessions,
            self.executor,
            self.clock,
            self.name,
            SchedulerSettings(lease_s=10, run_lease_s=30, poll_s=1, misfire_grace_s=60),
        )
        self.runner = Runner(
            self.svc.sessions,
            self.svc.engines,
            self.svc.remotes.configs,
            self.clock,
            self.name,
            RunnerSettings(
                tick_s=0.02,
                log_cap_bytes=4096,
                file_report_cap=1000,
                allow_programs=self.svc.settings.allow_command_jobs,
            ),
            job_env=self.svc.job_env,
            hook_url=self.svc.hook_url,
        )

    def step(self) -> list[int]:
        """One scheduler pass; then run, in this thread, every run it dispatched."""
        self.scheduler.tick()
        ran = self.executor.take()
        for run_id in ran:
            self.runner.execute(run_id, self.executor.starts.pop(run_id, None))
        return ran
