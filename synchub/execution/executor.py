"""The executor interface, and the local pool of the embedded default."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from synchub import __version__
from synchub.execution.runner import Runner, RunnerClosed, StopReason
from synchub.store.outage import DB_OUTAGE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerInfo:
    """One worker as the executor sees it: the local pool, or a Celery node."""

    name: str
    kind: str  #: "local" or "celery"
    queues: list[str]  #: ["*"] for a pool that takes every queue
    concurrency: int | None
    active: list[int]  #: ids of the runs running there now
    #: the synchub version it runs; None: a worker too old to say
    version: str | None = None


class Executor(Protocol):
    def capacity(self, queue: str) -> int:
        """How many more runs of `queue` it can start now."""
        ...

    def submit(self, run_id: int, queue: str, at: datetime | None = None) -> None:
        """Hand over a queued run, to start no earlier than `at` (a run fired ahead of
        its fire time); raise when it cannot be taken."""
        ...

    def in_flight(self) -> set[int]:
        """Runs handed over and not yet ended, as far as this process knows."""
        ...

    def shutdown(self, grace_s: float) -> None:
        """Stop taking runs; let running ones finish for `grace_s`, then stop them."""
        ...

    def describe(self) -> list[WorkerInfo]:
        """The workers runs can go to, as far as can be seen from here."""
        ...


#: A queued run handed over: its id, its queue, and its fire time when fired ahead.
Handed = tuple[int, str, datetime | None]


@runtime_checkable
class SubmitsMany(Protocol):
    """An executor that hands over a pass's runs at once cheaper than one by one."""

    def submit_many(self, runs: Sequence[Handed]) -> list[int]:
        """Hand over `runs`, as `submit` would each; the ids of those that may not
        have been taken (the caller puts them back to pending)."""
        ...


class LocalExecutor:
    """A bounded thread pool in this process, with per-queue limits."""

    def __init__(self, runner: Runner, concurrency: int, queue_limits: dict[str, int]) -> None:
        self.runner = runner
        self.concurrency = concurrency
        self.queue_limits = dict(queue_limits)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="synchub-run")
        self._lock = threading.Lock()
        self._by_queue: Counter[str] = Counter()
        self._runs: dict[int, Future[object]] = {}
        self._closed = False

    def capacity(self, queue: str) -> int:
        with self._lock:
            if self._closed:
                return 0
            free = self.concurrency - len(self._runs)
            limit = self.queue_limits.get(queue)
            if limit is not None:
                free = min(free, limit - self._by_queue[queue])
            return max(0, free)

    def submit(self, run_id: int, queue: str, at: datetime | None = None) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the local executor is shutting down")
            self._by_queue[queue] += 1
            future = self._pool.submit(self._execute, run_id, at)
            self._runs[run_id] = future
        future.add_done_callback(lambda _f: self._done(run_id, queue))

    def in_flight(self) -> set[int]:
        with self._lock:
            return set(self._runs)

    def describe(self) -> list[WorkerInfo]:
        return [
            WorkerInfo(
                name=self.runner.worker,
                kind="local",
                queues=["*"],
                concurrency=self.concurrency,
                active=sorted(self.in_flight()),
                version=__version__,
            )
        ]

    def _execute(self, run_id: int, at: datetime | None) -> object:
        try:
            return self.runner.execute(run_id, at)
        except RunnerClosed:
            return None  # left queued: the next start sends it again
        except Exception as exc:
            # A claim that met a database outage leaves the run queued: the scheduler
            # sends it again once the database is back.
            if not DB_OUTAGE.failed(exc, f"run {run_id}'s claim"):
                log.exception("run %s: runner failed", run_id, extra={"action": "runner_error"})
            return None

    def _done(self, run_id: int, queue: str) -> None:
        with self._lock:
            self._by_queue[queue] -= 1
            self._runs.pop(run_id, None)

    def shutdown(self, grace_s: float) -> None:
        with self._lock:
            self._closed = True
            futures = list(self._runs.values())
        _, still_running = wait(futures, timeout=grace_s)
        if still_running:
            log.warning(
                "stopping %d run(s) still running after the grace period",
                len(still_running),
                extra={"action": "shutdown_stop"},
            )
            self.runner.stop_all(StopReason.SHUTDOWN)
        self._pool.shutdown(wait=True)
