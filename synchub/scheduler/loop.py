"""The scheduler loop. Each step does one unit of work and says whether it found any.

1. Hold the lease (or wait for it to lapse): only the leader fires, dispatches and reaps.
2. Fire: due jobs get their runs (misfire policy applied), next fire advanced.
3. Dispatch: pending runs whose time has come go to the executor.
4. Reap: running runs whose heartbeat stopped changing become lost (retried by policy);
   queued runs no executor took go back to pending.
5. Sleep until the earliest next fire or retry, a change, or the poll interval.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from synchub.core.clock import Clock
from synchub.core.policies import OverlapPolicy
from synchub.core.runs import RunState, SkipReason, Trigger
from synchub.core.schedules import (
    MisfirePolicy,
    decide_misfires,
    fires_between,
    next_fire,
)
from synchub.execution.executor import Executor, Handed, SubmitsMany
from synchub.execution.outcomes import end_run
from synchub.scheduler import windows
from synchub.scheduler.lapse import LapseWatch
from synchub.scheduler.watch import FolderWatch
from synchub.store import heartbeats, leases
from synchub.store import jobs as job_store
from synchub.store import runs as run_store
from synchub.store.db import reading, transaction
from synchub.store.outage import DB_OUTAGE
from synchub.store.tables import JobRow

log = logging.getLogger(__name__)

LEASE = leases.SCHEDULER
#: At most this many missed fire times are recorded one by one per pass.
MAX_RECORDED_MISSES = 100


@dataclass(frozen=True)
class SchedulerSettings:
    lease_s: float = 10.0
    run_lease_s: float = 30.0
    poll_s: float = 1.0
    misfire_grace_s: float = 60.0
    batch: int = 200
    #: queued runs no executor took within this are sent again (lost hand-overs)
    requeue_after_s: float = 10.0
    #: fire this long before a fire time: the run is created and handed over early,
    #: and the executor starts it at its fire time (so no transaction and no broker
    #: lies between the fire time and the start); 0 fires at the fire time
    fire_ahead_s: float = 0.0


class _Slots:
    """What the executor can still take during one pass, counted conservatively:
    a run taken uses a slot of the whole pool as well as one of its queue."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.taken = 0

    def take(self, queue: str) -> bool:
        if self.executor.capacity(queue) - self.taken < 1:
            return False
        self.taken += 1
        return True


@dataclass
class Scheduler:
    sessions: sessionmaker[Session]
    executor: Executor
    clock: Clock
    holder: str
    settings: SchedulerSettings = field(default_factory=SchedulerSettings)
    #: watched folders, run while this scheduler leads
    watch: FolderWatch | None = None
    wake_event: threading.Event = field(default_factory=threading.Event)
    leading: bool = False
    next_wake: datetime | None = None
    _full: bool = True
    _lease_renewed: datetime | None = None
    _next_reap: datetime | None = None
    _lease_watch: LapseWatch = field(default_factory=LapseWatch)
    _beat_watch: LapseWatch = field(default_factory=LapseWatch)

    def wake(self, *, full: bool = True) -> None:
        """Wake the loop: `full` after a change of jobs or runs; False when only a
        slot freed up (a run ended) and dispatching is all there is to do."""
        if full:
            self._full = True
        self.wake_event.set()

    def tick(self) -> float:
        """One pass of the loop; returns how long to sleep before the next.

        A wake that only freed a slot dispatches and goes back to sleep: at a hundred
        run ends a second, a full pass each time would be most of the work.
        """
        self.wake_event.clear()
        now = self.clock.now()
        full, self._full = self._full, False
        if not self._lease_fresh(now) and not self.hold_lease():
            if self.watch is not None:
                self.watch.stop()
            # Look often: a lapse is measured from when this process first saw the stamp.
            return min(self.settings.poll_s, self.settings.lease_s / 3)
        if not full and self.next_wake is not None and now < self.next_wake:
            self.dispatch()
            return (self.next_wake - now).total_seconds()
        while self.fire():
            pass
        self.fire_watched()
        while self.dispatch() >= self.settings.batch:
            pass  # a full batch: more may be due, and the broker has room
        if self._next_reap is None or now >= self._next_reap:
            self.reap()
            self._next_reap = now + timedelta(seconds=self.settings.poll_s)
        return self.sleep_for()

    def _lease_fresh(self, now: datetime) -> bool:
        """True while our lead was renewed less than a third of the lease ago."""
        renewed = self._lease_renewed
        return (
            self.leading
            and renewed is not None
            and (now - renewed).total_seconds() < self.settings.lease_s / 3
        )

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                delay = self.tick()
                DB_OUTAGE.ok()
            except Exception as exc:
                if not DB_OUTAGE.failed(exc, "scheduler pass"):
                    log.exception("scheduler pass failed", extra={"action": "scheduler_error"})
                delay = self.settings.poll_s
            if stop.is_set():
                break
            self.clock.sleep(delay, self.wake_event)
        if self.watch is not None:
            self.watch.stop()
        self.release()

    def hold_lease(self) -> bool:
        now = self.clock.now()
        ttl_s = self.settings.lease_s
        with transaction(self.sessions) as session:
            held = self.leading and leases.renew(session, LEASE, self.holder, now=now, ttl_s=ttl_s)
            if not held:
                seen = leases.current(session, LEASE)
                free = (
                    seen is None
                    or seen.holder == self.holder
                    or self._lease_watch.lapsed(LEASE, (seen.holder, seen.expires_at), now, ttl_s)
                )
                held = free and leases.take(
                    session, LEASE, self.holder, now=now, ttl_s=ttl_s, seen=seen
                )
        # From before the write: the lead is counted from no later than the others see it.
        self._lease_renewed = now if held else None
        if held != self.leading:
            log.info(
                "scheduler %s %s the lead",
                self.holder,
                "took" if held else "lost",
                extra={"action": "lease"},
            )
        self.leading = held
        return held

    def release(self) -> None:
        if self.leading:
            with transaction(self.sessions) as session:
                leases.release(session, LEASE, self.holder)
            self.leading = False

    def fire(self) -> bool:
        """Create the runs of due jobs and hand them over at once, in the same
        transaction, when the executor has room. True when the batch was full.

        Jobs due within `fire_ahead_s` fire now: their runs wait (pending with
        `not_before`, or on the executor) until their fire time. A batch costs the
        same few statements however many jobs are due in it (one insert of all the
        runs, one executemany advancing the jobs, one update queueing the runs), so
        a pass is O(due jobs) in work and constant in round trips.
        """
        now = self.clock.now()
        horizon = now + timedelta(seconds=self.settings.fire_ahead_s)
        slots = _Slots(self.executor)
        handed: list[Handed] = []
        with transaction(self.sessions) as session:
            due = job_store.due(session, horizon, self.settings.batch)
            fires: list[tuple[JobRow, datetime, datetime | None]] = []
            moves: list[tuple[int, datetime | None, datetime | None]] = []
            for job in due:
                upcoming, times = self._fire_times(session, job, now, horizon)
                moves.append((job.id, job.next_fire_at, upcoming))
                fires += [(job, at, wait) for at, wait in times]
            created = run_store.create_scheduled(session, fires, now)
            job_store.advance_many(session, moves)
            chosen: list[Handed] = []
            for job, at, wait in fires:
                run_id = created.get((job.id, at))
                # A run waiting for its window past the lead stays pending until then.
                soon = wait is None or wait <= horizon
                if run_id is not None and soon and slots.take(job.queue):
                    chosen.append((run_id, job.queue, wait))
            queued = run_store.mark_queued(session, [c[0] for c in chosen], now)
            handed = [c for c in chosen if c[0] in queued]
        self._submit(handed)
        return len(due) == self.settings.batch

    def _fire_times(
        self, session: Session, job: JobRow, now: datetime, horizon: datetime
    ) -> tuple[datetime | None, list[tuple[datetime, datetime | None]]]:
        """The job's next fire after `horizon`, and its fire times up to `horizon` that
        are to run, by its misfire policy, each with its fire time when that is still to
        come (a run fired ahead, waiting for it), else None. Missed ones are recorded
        here, as skipped runs."""
        expected = job.next_fire_at
        assert expected is not None
        schedule = job_store.schedule_of(job)
        try:
            fires, cut = fires_between(schedule, expected, horizon, limit=10_000)
            upcoming = next_fire(schedule, horizon)
        except Exception:
            # Guard against a crash loop: push the job out of the due set, then report.
            log.exception(
                "job %s: cannot compute its schedule; unscheduled",
                job.name,
                extra={"action": "schedule_error"},
            )
            return None, []
        # Only fire times already passed can have been missed; those still to come
        # (within the lead) always run.
        ahead = [at for at in fires if at > now]
        decision = decide_misfires(
            fires[: len(fires) - len(ahead)],
            now=now,
            grace_s=self.settings.misfire_grace_s,
            policy=MisfirePolicy(job.misfire),
        )
        for at in decision.skip[-MAX_RECORDED_MISSES:]:
            run_store.create(
                session,
                job,
                trigger=Trigger.SCHEDULE,
                now=now,
                scheduled_for=at,
                state=RunState.SKIPPED,
                reason=SkipReason.MISSED.value,
            )
        unrecorded = len(decision.skip) - MAX_RECORDED_MISSES
        if unrecorded > 0 or cut:
            log.warning(
                "job %s: %s more missed fire times not recorded",
                job.name,
                "10000+" if cut else unrecorded,
                extra={"action": "misfire"},
            )
        runs: list[tuple[datetime, datetime | None]] = [(at, None) for at in decision.run]
        return upcoming, windows.gate(session, job, runs + [(at, at) for at in ahead], now)

    def fire_watched(self) -> int:
        """Re-check the watched folders and create the runs of those whose changes
        settled (dispatched by the same pass). A failure here is logged and does not
        stop the schedules from firing."""
        if self.watch is None:
            return 0
        try:
            self.watch.refresh()
            return len(self.watch.fire())
        except Exception as exc:
            if not DB_OUTAGE.failed(exc, "watched folders' pass"):
                log.exception("watched folders: pass failed", extra={"action": "watch_error"})
            return 0

    def dispatch(self) -> int:
        """Hand due pending runs to the executor, as many as it can take."""
        now = self.clock.now()
        with reading(self.sessions) as session:
            pending = run_store.due_pending(session, now, self.settings.batch)
            busy = run_store.running_job_ids(session)
            job_ids = {r.job_id for r in pending if r.job_id is not None}
            waiting = {
                j.id
                for j in job_store.by_ids(session, job_ids & busy)
                if j.overlap == OverlapPolicy.QUEUE.value
            }
        slots = _Slots(self.executor)
        chosen = [r for r in pending if r.job_id not in waiting and slots.take(r.queue)]
        if not chosen:
            return 0
        with transaction(self.sessions) as session:
            moved = run_store.mark_queued(session, [r.id for r in chosen], now)
        return self._submit([(r.id, r.queue, None) for r in chosen if r.id in moved])

    def _submit(self, handed: list[Handed]) -> int:
        """Give queued runs to the executor (with the time to start those fired ahead),
        all at once where it can (`SubmitsMany`); those it may not have taken go back
        to pending."""
        if isinstance(self.executor, SubmitsMany):
            failed = self.executor.submit_many(handed) if handed else []
        else:
            failed = [r[0] for r in handed if not self._submit_one(*r)]
        if failed:
            log.error(
                "runs %s: dispatch failed; left pending",
                ", ".join(map(str, failed)),
                extra={"action": "dispatch_error"},
            )
            with transaction(self.sessions) as session:
                for run_id in failed:
                    run_store.move(
                        session,
                        run_id,
                        RunState.PENDING,
                        expected=[RunState.QUEUED],
                        queued_at=None,
                    )
        return len(handed)

    def _submit_one(self, run_id: int, queue: str, at: datetime | None) -> bool:
        try:
            self.executor.submit(run_id, queue, at)
        except Exception:
            log.exception("run %s: dispatch failed", run_id, extra={"action": "dispatch_error"})
            return False
        return True

    def reap(self) -> int:
        """End runs whose worker vanished; return queued runs nobody took to pending.

        A run is lost when its heartbeat has not changed for the run lease, as this
        scheduler measures it (`LapseWatch`): the worker's clock may disagree with ours.
        """
        now = self.clock.now()
        found = 0
        with transaction(self.sessions) as session:
            running = heartbeats.beats(session)
            self._beat_watch.keep(run_id for run_id, _ in running)
            mine = self.executor.in_flight()
            for run_id, beat in running:
                lapsed = self._beat_watch.lapsed(run_id, beat, now, self.settings.run_lease_s)
                if not lapsed or run_id in mine:
                    continue  # beating, or ours and alive (its heartbeat write is only late)
                if not heartbeats.lock_if_beat_is(session, run_id, beat):
                    continue
                ending = end_run(
                    session,
                    run_id,
                    RunState.LOST,
                    now=now,
                    error_class="lost",
                    error="The worker stopped sending heartbeats; the run was lost",
                )
                if ending.moved:
                    found += 1
                    then = (
                        "no retry left"
                        if ending.retry_id is None
                        else f"retried as run {ending.retry_id}"
                    )
                    log.warning("run %s lost: %s", run_id, then, extra={"action": "run_lost"})
            for run_id in heartbeats.stale_queued(session, now, self.settings.requeue_after_s):
                if run_id not in mine and run_store.move(
                    session,
                    run_id,
                    RunState.PENDING,
                    expected=[RunState.QUEUED],
                    queued_at=None,
                ):
                    found += 1
        return found

    def sleep_for(self) -> float:
        now = self.clock.now()
        with reading(self.sessions) as session:
            fire = job_store.earliest_fire(session)
            pending = run_store.earliest_pending(session, now)
        horizon = now + timedelta(seconds=min(self.settings.poll_s, self.settings.lease_s / 3))
        settles = self.watch.next_due() if self.watch is not None else None
        if settles is not None and settles <= now:
            settles = None  # left dirty by a failed pass: retried within the poll interval
        if fire is not None:
            fire -= timedelta(seconds=self.settings.fire_ahead_s)
        candidates = [t for t in (fire, pending, settles) if t is not None]
        wake_at = min([horizon, *candidates])
        self.next_wake = wake_at
        return max(0.0, (wake_at - now).total_seconds())
