"""One trial of `bench burst`, in a process of its own: N no-op jobs due at the same
instant, an in-process scheduler on the real clock, and when each run was handed to
the executor — after the transaction that queued it committed, so durably queued.
With `claim`, the executor is the local pool with N threads (as many workers as
jobs), and when each run's claim returned is noted too.

Run by path (`python bench/burst_child.py N DB_URL HOME [queue|claim]`) with the
synchub to measure first on PYTHONPATH: the same script measures this tree and a
baseline one. Prints one JSON object: the lateness of each run in ms after its fire
time, handed over (`late_ms`) and, with `claim`, claimed (`claim_ms`).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from bench.noop_kind import NoopKind
from synchub.config import Settings
from synchub.core.clock import FakeClock, SystemClock
from synchub.engines.registry import builtin_engines
from synchub.execution.executor import Executor, LocalExecutor
from synchub.execution.runner import Runner, RunnerSettings
from synchub.scheduler.loop import Scheduler, SchedulerSettings
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store.db import transaction
from synchub.store.migrate import upgrade
from synchub.store.tables import JobRow

FIRE_AHEAD_S = 0.1  #: SYNCHUB_FIRE_AHEAD's default


class TimedRunner(Runner):
    """The runner, noting when each claim returned (its commit done)."""

    def __init__(self, *args: Any, expect: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expect = expect
        self.claimed: dict[int, float] = {}
        self.all_claimed = threading.Event()
        self._noted = threading.Lock()

    def _claim(self, run_id: int) -> Any:
        outcome = super()._claim(run_id)
        with self._noted:
            self.claimed[run_id] = time.time()
            if len(self.claimed) >= self.expect:
                self.all_claimed.set()
        return outcome


@dataclass
class Recorder:
    """An executor with room for every run, noting when each is handed over; with
    `inner`, it then hands the run to that one."""

    expect: int
    inner: Executor | None = None
    handed: dict[int, float] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)

    def capacity(self, queue: str) -> int:
        return 1_000_000 if self.inner is None else self.inner.capacity(queue)

    def submit(self, run_id: int, queue: str, at: datetime | None = None) -> None:
        self.handed[run_id] = time.time()
        if self.inner is not None:
            self.inner.submit(run_id, queue, at)
        if len(self.handed) >= self.expect:
            self.done.set()

    def in_flight(self) -> set[int]:
        return set() if self.inner is None else self.inner.in_flight()

    def shutdown(self, grace_s: float) -> None: ...

    def describe(self) -> list[Any]:
        return []


def main(n: int, url: str, home: Path, mode: str = "queue") -> dict[str, Any]:
    settings = Settings(home=home, database_url=url, default_tz="UTC")
    engines = {**builtin_engines(), "noop": NoopKind()}
    svc = Services(settings, clock=FakeClock(datetime.now(UTC)), engines=engines)
    upgrade(svc.db)
    for i in range(n):
        svc.jobs.add(f"noop-{i:04d}", JobFields(kind="noop", params={}, every="1h", retries=0))
    # All due at one whole second, 2 s on: as cron jobs at the top of a minute.
    fire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    with transaction(svc.sessions) as session:
        session.execute(update(JobRow).values(next_fire_at=fire_at, anchor_at=fire_at))
    recorder = Recorder(n)
    runner = None
    if mode == "claim":
        runner = TimedRunner(svc.sessions, engines, svc.remotes.configs, SystemClock(), "bench",
                             RunnerSettings(), job_env=svc.job_env, hook_url=svc.hook_url,
                             expect=n)  # fmt: skip
        recorder.inner = LocalExecutor(runner, n, {})
    scheduler = Scheduler(svc.sessions, recorder, SystemClock(), "bench",
                          SchedulerSettings(fire_ahead_s=FIRE_AHEAD_S))  # fmt: skip
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,), daemon=True)
    thread.start()
    recorder.done.wait(timeout=60 + n / 10)
    if runner is not None:
        runner.all_claimed.wait(timeout=60 + n / 10)
    stop.set()
    scheduler.wake()
    thread.join(timeout=30)
    if recorder.inner is not None:
        recorder.inner.shutdown(grace_s=30)
    svc.close()
    late = sorted((t - fire_at.timestamp()) * 1000 for t in recorder.handed.values())
    claimed = {} if runner is None else runner.claimed
    claim_ms = sorted((t - fire_at.timestamp()) * 1000 for t in claimed.values())
    return {"n": n, "handed": len(late), "late_ms": late, "claim_ms": claim_ms}


if __name__ == "__main__":
    mode = sys.argv[4] if len(sys.argv) > 4 else "queue"
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), mode)))
