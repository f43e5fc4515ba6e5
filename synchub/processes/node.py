"""One synchub process's moving parts: runner, local executor, scheduler, the
alerts' sender and the pruning of run history."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from synchub.execution.executor import Executor, LocalExecutor, WorkerInfo
from synchub.execution.runner import Runner
from synchub.processes.runners import make_runner, process_name
from synchub.services import Services
from synchub.store.outage import DB_OUTAGE, Outage

if TYPE_CHECKING:
    from synchub.scheduler.loop import Scheduler
    from synchub.services.retention import Pruned

log = logging.getLogger(__name__)

#: Seconds between alert passes: how soon after a run ends its alert goes out.
ALERT_PASS_S = 2.0
#: Seconds after the start (or after finding another node leading) before pruning.
FIRST_PRUNE_S = 60.0


@dataclass
class Node:
    """One process's share of the work: a scheduler thread (unless `scheduler` is off)
    feeding the executor of the settings, the local pool (unless `pool` is off) or
    Celery workers on a broker."""

    svc: Services
    workers: int
    scheduler_on: bool = True
    pool: bool = True
    name: str = field(default_factory=process_name)
    stop_event: threading.Event = field(default_factory=threading.Event)
    #: where the passes report a database outage: the process's one view of it
    outage: Outage = DB_OUTAGE

    def __post_init__(self) -> None:
        s = self.svc.settings
        self.runner: Runner | None = None
        self.executor: Executor | None = None
        if s.executor == "celery":
            # Imported here: Celery and kombu weigh ~10 MiB the embedded default
            # (the local pool) never needs.
            from synchub.execution.celery_exec import CeleryExecutor
            from synchub.processes.worker import make_app

            self.executor = CeleryExecutor(make_app(s))
        elif self.pool:
            self.runner = make_runner(self.svc, self.name)
            self.executor = LocalExecutor(self.runner, self.workers, s.queue_limits)
        self.scheduler: Scheduler | None = None
        if self.scheduler_on:
            if self.executor is None:
                raise ValueError(
                    "a scheduler needs somewhere to run: the local pool, or "
                    "SYNCHUB_EXECUTOR=celery with workers on the broker"
                )
            self.scheduler = self._make_scheduler(self.executor)
        self._thread: threading.Thread | None = None
        self._alerts: threading.Thread | None = None
        self._pruning: threading.Thread | None = None

    def _make_scheduler(self, executor: Executor) -> Scheduler:
        # Imported here: only a process that schedules needs the loop and the folder
        # watch (`serve --no-scheduler` does not).
        from synchub.scheduler.loop import Scheduler, SchedulerSettings
        from synchub.scheduler.watch import FolderWatch

        s = self.svc.settings
        scheduler = Scheduler(
            self.svc.sessions,
            executor,
            self.svc.clock,
            self.name,
            SchedulerSettings(
                lease_s=s.scheduler_lease,
                run_lease_s=s.run_lease,
                poll_s=s.poll_interval,
                misfire_grace_s=s.misfire_grace,
                requeue_after_s=s.requeue_after if s.executor == "celery" else s.scheduler_lease,
                fire_ahead_s=s.fire_ahead,
            ),
        )
        scheduler.watch = FolderWatch(
            self.svc.sessions, self.svc.clock, s.watch_settle, wake=scheduler.wake
        )
        if self.runner is not None:
            self.runner.on_end = lambda: scheduler.wake(full=False)
        self.svc.on_change = scheduler.wake
        return scheduler

    def start(self) -> None:
        if self.scheduler is not None:
            self._thread = threading.Thread(
                target=self.scheduler.run_forever,
                args=(self.stop_event,),
                name="synchub-scheduler",
                daemon=True,
            )
            self._thread.start()
            # Alerts go out from wherever a scheduler runs; never from a run's path.
            self._alerts = threading.Thread(
                target=self._send_alerts, name="synchub-alerts", daemon=True
            )
            self._alerts.start()
            if self.svc.settings.prune_every > 0:
                self._pruning = threading.Thread(
                    target=self._prune, name="synchub-retention", daemon=True
                )
                self._pruning.start()

    def _send_alerts(self) -> None:
        while not self.stop_event.wait(ALERT_PASS_S):
            try:
                self.svc.alerts.pump()
            except Exception as exc:  # a database hiccup: the next pass tries again
                if not self.outage.failed(exc, "alert pass"):
                    log.exception("the alert pass failed")

    def _prune(self) -> None:
        every = self.svc.settings.prune_every
        # The first pass soon after the start: a server restarted often still prunes.
        delay = min(every, FIRST_PRUNE_S)
        while not self.stop_event.wait(delay):
            pruned = self.prune_pass()
            # Not leading: look again soon, we may lead by then.
            delay = every if pruned is not None else min(every, FIRST_PRUNE_S)

    def prune_pass(self) -> Pruned | None:
        """`prune_once`, its failure told rather than raised (the next pass tries
        again): a database outage in the process's one warning, anything else with its
        traceback."""
        try:
            return self.prune_once()
        except Exception as exc:
            if not self.outage.failed(exc, "pruning pass"):
                log.exception("the pruning pass failed", extra={"action": "prune_error"})
            return None

    def prune_once(self) -> Pruned | None:
        """One pruning pass if this node's scheduler leads (None if not): it stops
        between two writes once the lead is lost or the node stops."""
        scheduler = self.scheduler

        def leading() -> bool:
            return scheduler is not None and scheduler.leading and not self.stop_event.is_set()

        if not leading():
            return None
        pruned = self.svc.retention.prune(keep_going=leading, pause=self.stop_event.wait)
        if pruned.runs or pruned.logs_of_runs or pruned.tasks or pruned.alert_messages:
            log.info(
                "pruned %s run(s), the logs of %s, %s file task(s), %s alert message(s)",
                pruned.runs,
                pruned.logs_of_runs,
                pruned.tasks,
                pruned.alert_messages,
                extra={"action": "prune"},
            )
        return pruned

    def stop(self, grace_s: float) -> None:
        """Stop firing, let running runs finish for `grace_s`, then stop them; the
        runs stopped end as lost and are retried by policy on the next start."""
        self.stop_event.set()
        if self.scheduler is not None and self._thread is not None:
            self.scheduler.wake()
            self._thread.join()
        if self._alerts is not None:
            self._alerts.join()
        if self._pruning is not None:
            self._pruning.join()
        if self.executor is not None:
            self.executor.shutdown(grace_s)

    def describe_workers(self) -> list[WorkerInfo]:
        """The workers runs can go to: this pool, or the Celery workers that answer."""
        if self.executor is None:
            return []
        return self.executor.describe()
