"""The runner: claim -> execute the kind -> stream progress and log -> finish -> retry.

Both executors call it. It holds no state between runs: the database is the truth.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from synchub.core.clock import Clock
from synchub.core.errors import (
    CommandsDisabled,
    InvalidInput,
    NotFound,
    SecretsUnreadable,
    SynchubError,
)
from synchub.core.hooks import Hook, HookContext, HookEvent, Hooks, has_commands, parse_hooks
from synchub.core.logcap import LogCap
from synchub.core.redact import redact, secret_list
from synchub.core.runs import RunState, RunStats
from synchub.engines.base import Engine, Outcome, RemoteConfig, RunContext, check_may_start
from synchub.engines.rclone import params as rclone_params
from synchub.engines.rclone.environment import secret_values
from synchub.execution.claim_groups import ClaimGroups
from synchub.execution.ending import Ends, stats_of
from synchub.execution.hooks import HookResult, run_hooks
from synchub.execution.patience import patiently
from synchub.execution.sink import BufferedSink
from synchub.execution.task_feed import TaskFeed
from synchub.execution.windows import SHUT, window_left
from synchub.store import claim as claims
from synchub.store import heartbeats
from synchub.store.db import again_if_disconnected, transaction
from synchub.store.outage import DB_OUTAGE

log = logging.getLogger(__name__)
T = TypeVar("T")

ResolveRemotes = Callable[[frozenset[str]], dict[str, RemoteConfig]]
#: A job's environment values by its id, unsealed (its stored params hold them masked).
JobEnv = Callable[[int], dict[str, str]]
#: The longest a run fired ahead waits for its fire time (a bound against clock skew).
MAX_START_WAIT_S = 1.0


class RunnerClosed(Exception):
    """This runner is shutting down and claims no more runs."""


class StopReason(StrEnum):
    CANCEL = "cancel"  #: someone asked to cancel the run
    TIMEOUT = "timeout"  #: the job's timeout passed
    SHUTDOWN = "shutdown"  #: this process is stopping
    LOST = "lost"  #: the run is no longer ours (reaped, or ended elsewhere)


@dataclass
class _Watched:
    """A run this runner is running, as its monitor sees it."""

    sink: BufferedSink
    stop: threading.Event  #: set to make the engine stop
    reasons: list[StopReason]  #: why it was stopped, first reason first
    deadline: datetime | None = None  #: the job's timeout, from the start
    #: held while the monitor writes for this run: the run's end waits for it
    busy: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class RunnerSettings:
    run_lease_s: float = 30.0
    tick_s: float = 1.0  #: how often progress, logs and the heartbeat are written
    #: lines and files of a run written between ticks once that many are buffered
    batch_rows: int = 500
    log_cap_bytes: int = 5 * 1024 * 1024
    file_report_cap: int = 100_000
    #: Write a run's end that is one statement (see `ending.Ends.write`) from a thread
    #: of the runner's, so that `execute` returns while its commit is flushed; the same
    #: thread's next `execute` waits for it where it could change that claim (a run of
    #: the same job: `claims.take`). For a Celery worker, whose next message comes
    #: meanwhile (the message is acknowledged as `execute` returns).
    end_behind: bool = False
    #: How long such an end waits for this thread's next claim, which then writes it
    #: in its own statement (one round trip and one commit for both), before the end
    #: thread writes it alone. A busy worker's next message comes within milliseconds;
    #: an idle worker's end is in this much later.
    carry_wait_s: float = 0.05
    #: SYNCHUB_ALLOW_COMMAND_JOBS of this process: runs of kinds that start programs
    #: (`command`) fail without starting anything when it is off
    allow_programs: bool = False
    kill_grace: float = 5.0  #: seconds between SIGTERM and SIGKILL for a stopped hook
    #: how long a claim waits for its turn to be claimed with others before it is
    #: made alone (`ClaimGroups`): long beside a batch's work (≈ 0.1 ms a run), short
    #: beside a lock held for long elsewhere that the claim under way waits for
    claim_patience_s: float = 1.0


class Runner:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        engines: dict[str, Engine],
        resolve_remotes: ResolveRemotes,
        clock: Clock,
        worker: str,
        settings: RunnerSettings = RunnerSettings(),
        on_end: Callable[[], None] = lambda: None,
        *,
        job_env: JobEnv,
        hook_url: Callable[[str], str],
    ) -> None:
        self.sessions = sessions
        self.engines = engines
        self.resolve_remotes = resolve_remotes
        self.job_env = job_env
        #: opens a webhook's sealed URL
        self.hook_url = hook_url
        self.clock = clock
        self.worker = worker
        self.settings = settings
        self.on_end = on_end
        self._active: dict[int, _Watched] = {}
        self._lock = threading.Lock()
        #: the thread that watches every active run; runs while there are any
        self._monitor_thread: threading.Thread | None = None
        #: set when a run's buffer fills a batch: the monitor writes it before its tick
        self._batch_full = threading.Event()
        #: set by `stop_all(SHUTDOWN)`: runs waiting for their fire time stop waiting
        self._closing = threading.Event()
        self._ends = Ends(
            sessions, clock, lease_s=settings.run_lease_s, behind=settings.end_behind,
            carry_wait_s=settings.carry_wait_s,
        )  # fmt: skip
        self._groups = ClaimGroups(
            lambda run_ids: claims.take_many(sessions, run_ids, worker=worker, clock=clock),
            patience_s=settings.claim_patience_s,
        )

    def execute(self, run_id: int, at: datetime | None = None) -> claims.Claim:
        """Claim run `run_id` and, when claimed, run it to its end in this thread.

        A run fired ahead of its fire time comes with that time as `at`: the claim
        waits for it (at most MAX_START_WAIT_S), or for a shutdown.

        Raises RunnerClosed, claiming nothing, once `stop_all(SHUTDOWN)` was called.
        """
        if at is not None:
            wait = (at - self.clock.now()).total_seconds()
            if wait > 0:
                self.clock.sleep(min(wait, MAX_START_WAIT_S), self._closing)
        if self._closing.is_set():
            raise RunnerClosed
        claim, claimed = self._claim(run_id)
        if claimed is None:
            # BUSY runs wait for a run to end (which wakes the scheduler); waking it
            # now would only bounce them between pending and queued.
            if claim is claims.Claim.SKIPPED:
                self.on_end()
            return claim
        try:
            self._run_claimed(claimed)
        finally:
            self.on_end()
        return claim

    def _claim(self, run_id: int) -> claims.ClaimOutcome:
        """Claim the run; with it comes what running it needs. Runs this runner's
        threads claim at the same moment are claimed together (`ClaimGroups`). The end
        of this thread's previous run may still be left behind (`end_behind`): then
        the claim is its own, carries that end, committing both in one statement, or,
        when the end thread has it, waits for it only where it could change the
        outcome (`claims.take`)."""
        unended = self._ends.unended_job()
        if unended is None:
            return self._groups.take(run_id, lambda: self._claim_alone(run_id, None))
        return self._claim_alone(run_id, unended)

    def _claim_alone(self, run_id: int, unended: int | None) -> claims.ClaimOutcome:
        end = None if unended is None else self._ends.carry()
        try:
            # A claim whose commit was lost with its connection may have gone through:
            # then the second try finds the run running, reports it gone, and the run
            # is reaped as lost and retried by policy. Never run twice, never left
            # behind. (A carried end is a conditional move: written once either way.)
            outcome = again_if_disconnected(
                lambda: claims.take(
                    self.sessions, run_id, worker=self.worker, clock=self.clock,
                    unended_job=unended, settle=self.wait_for_end, end=end,
                )
            )  # fmt: skip
        except BaseException:
            if end is not None:
                self._ends.carried(end, written=False)
            raise
        if end is not None:
            self._ends.carried(end, written=True)
        return outcome

    def wait_for_end(self) -> None:
        """Wait until the end this thread left to the runner's end thread is written."""
        self._ends.wait()

    def close(self) -> None:
        """Wait until every end left to the end thread is written (at process exit)."""
        self._ends.close()

    def stop_all(self, reason: StopReason = StopReason.SHUTDOWN) -> None:
        """Ask every run in this runner to stop (graceful shutdown's last step). After
        a SHUTDOWN the runner claims nothing more."""
        if reason is StopReason.SHUTDOWN:
            self._closing.set()
        with self._lock:
            for watched in self._active.values():
                watched.reasons.append(reason)
                watched.stop.set()

    def active(self) -> list[int]:
        with self._lock:
            return list(self._active)

    def _run_claimed(self, run: claims.Claimed) -> None:
        run_id = run.run_id
        sink = BufferedSink(
            run_id,
            self.clock,
            LogCap(self.settings.log_cap_bytes),
            self.settings.file_report_cap,
            tasks=_feed(run),
            batch_rows=self.settings.batch_rows,
            on_full=self._batch_full.set,
        )
        watched = _Watched(sink, threading.Event(), [])
        with self._lock:
            self._active[run_id] = watched
        try:
            # The reads of its remotes and secrets meet a database outage like the end does.
            engine, hooks, may_start, ctx = patiently(
                f"run {run_id}'s start",
                lambda: self._prepare(run, sink, watched.stop),
                lease_s=self.settings.run_lease_s,
            )
        except Exception as exc:
            self._forget(run_id)
            self._finish(
                run_id, RunState.FAILED, _internal(exc), sink, job_id=run.job_id,
                followed=run.extras.followed,
            )  # fmt: skip
            return
        if not may_start:
            self._forget(run_id)
            self._finish(
                run_id, RunState.SKIPPED, SHUT, sink, job_id=run.job_id,
                followed=run.extras.followed,
            )  # fmt: skip
            return
        sink.secrets = secret_list([*_run_secrets(ctx), *_urls(hooks)])
        if run.timeout_s is not None:
            watched.deadline = self.clock.now() + timedelta(seconds=run.timeout_s)
        self._watch()
        state, outcome = self._work(run, engine, ctx, hooks, watched)
        self._forget(run_id)
        with watched.busy:
            pass  # a monitor pass writing for this run is over; no other one begins
        self._finish(
            run_id, state, outcome, sink, watched.reasons, run.watch, run.started_at,
            job_id=run.job_id, followed=run.extras.followed,
        )  # fmt: skip

    def _prepare(
        self, run: claims.Claimed, sink: BufferedSink, stop: threading.Event
    ) -> tuple[Engine, Hooks, bool, RunContext]:
        """The run's engine, hooks, whether its window lets it start, and its context."""
        engine = self.engines[run.kind]
        check_may_start(engine, allowed=self.settings.allow_programs)
        hooks = self._hooks_of(run.extras.hooks)
        may_start, window_s = window_left(run.extras, self.clock.now())
        ctx = RunContext(
            run_id=run.run_id,
            job_name=run.job_name,
            params=self._params(run),
            attempt=run.attempt,
            first_run=run.first_run or run.resync,
            remotes=self._remotes(engine.remotes_used(run.params)),
            sink=sink,
            stop=stop,
            timeout_s=run.timeout_s,
            dry_run=run.dry_run,
            allow_deletes=run.allow_deletes,
            started_at=run.started_at,
            window_s=window_s,
        )
        return engine, hooks, may_start, ctx

    def _hooks_of(self, raw: dict[str, Any]) -> Hooks:
        """The job's hooks, as its claim read them, webhooks' URLs opened. Command hooks
        start programs: only where command jobs are allowed, as for the job itself
        (CommandsDisabled)."""
        hooks = parse_hooks(raw)
        if has_commands(hooks) and not self.settings.allow_programs:
            raise CommandsDisabled(
                "the job has hooks, which start programs, and command jobs are disabled "
                "on this server"
            )
        return {event: [self._opened(h) for h in items] for event, items in hooks.items()}

    def _opened(self, hook: Hook) -> Hook:
        if not hook.is_webhook or hook.url_sealed is None:
            return hook
        return replace(hook, url=self.hook_url(hook.url_sealed))

    def _work(
        self,
        run: claims.Claimed,
        engine: Engine,
        ctx: RunContext,
        hooks: Hooks,
        watched: _Watched,
    ) -> tuple[RunState, Outcome]:
        """The before hooks, the engine's work, then the after, on_failure and finally
        hooks (see core.hooks for their order and policies): the run's state and
        outcome."""
        start = HookContext(job=run.job_name, run_id=run.run_id, state=RunState.RUNNING.value)
        before = self._hooks(hooks, HookEvent.BEFORE, start, watched.sink, watched.stop)
        if before.skip:
            outcome = Outcome(ok=False, error_class="skipped", error=before.error)
        elif not before.ok:
            outcome = Outcome(ok=False, error_class="hook", error=before.error)
        else:
            try:
                outcome = engine.run(ctx)
            except Exception as exc:
                log.exception(
                    "run %s: engine crashed", run.run_id, extra={"action": "engine_crash"}
                )
                outcome = _internal(exc)
        state = RunState.SKIPPED if before.skip else _state_for(outcome, watched.reasons)
        if not (hooks.keys() - {HookEvent.BEFORE}):
            return state, outcome
        # A stop already acted on (a cancel, the timeout) stopped the work: the hooks
        # after it still run, each within its own timeout, unless this process stops.
        stop = self._closing if watched.stop.is_set() else watched.stop
        events = [HookEvent.FINALLY] if before.skip else [HookEvent.AFTER, HookEvent.ON_FAILURE,
                                                          HookEvent.FINALLY]  # fmt: skip
        for event in events:
            if event is HookEvent.ON_FAILURE and state is RunState.SUCCEEDED:
                continue
            done = self._hooks(
                hooks, event, _context(run, state, outcome, watched.sink), watched.sink, stop
            )
            if not done.ok and state is RunState.SUCCEEDED:
                state = RunState.FAILED
                outcome = replace(outcome, ok=False, error_class="hook", error=done.error)
        return state, outcome

    def _hooks(
        self,
        hooks: Hooks,
        event: HookEvent,
        context: HookContext,
        sink: BufferedSink,
        stop: threading.Event,
    ) -> HookResult:
        return run_hooks(
            hooks.get(event, []), context, sink, stop, grace_s=self.settings.kill_grace
        )

    def _params(self, run: claims.Claimed) -> Mapping[str, Any]:
        if run.only_path is not None:
            return one_file(run)
        if run.params.get("env"):
            return {**run.params, "env": {**run.params["env"], **self.job_env(run.job_id)}}
        return run.params

    def _remotes(self, names: frozenset[str]) -> dict[str, RemoteConfig]:
        return self.resolve_remotes(names) if names else {}

    def _watch(self) -> None:
        """Make sure the monitor runs. One thread watches every run of this runner: a
        thread per run cost a short run more CPU than its claim (start, wake, join)."""
        with self._lock:
            if self._monitor_thread is None:
                self._monitor_thread = threading.Thread(
                    target=self._monitor, name="synchub-run-monitor", daemon=True
                )
                self._monitor_thread.start()

    def _monitor(self) -> None:
        """Every tick, for each active run: flush its logs and progress, renew its
        heartbeat, watch for a cancel, its timeout, or its loss; between ticks, the same
        for a run whose buffer filled a batch. Ends when a pass finds no run to watch
        (`_watch` starts it again)."""
        tick_at = time.monotonic() + self.settings.tick_s
        while True:
            self._batch_full.wait(max(0.0, tick_at - time.monotonic()))
            self._batch_full.clear()  # a sink filling meanwhile says so by `full()`
            tick = time.monotonic() >= tick_at
            if tick:
                tick_at = time.monotonic() + self.settings.tick_s
            with self._lock:
                if not self._active:
                    self._monitor_thread = None
                    return
                active = list(self._active.items())
            for run_id, watched in active:
                if not tick and not watched.sink.full():
                    continue
                with watched.busy:
                    with self._lock:
                        if run_id not in self._active:
                            continue  # it ended meanwhile: its end writes the rest
                    self._check(run_id, watched)

    def _check(self, run_id: int, watched: _Watched) -> None:
        """One monitor pass over one run."""
        try:
            with transaction(self.sessions) as session:
                progress = watched.sink.flush(session)
                cancel = heartbeats.heartbeat(
                    session, run_id, worker=self.worker, now=self.clock.now(), progress=progress
                )
        except Exception as exc:
            # A database outage: the next tick tries again; the reaper decides if it lasts.
            watched.sink.put_back()  # its lines and files go with the next tick's
            if not DB_OUTAGE.failed(exc, f"run {run_id}'s heartbeat"):
                log.exception("run %s: heartbeat failed", run_id, extra={"action": "heartbeat"})
            return
        DB_OUTAGE.ok()
        reason = None
        if cancel is None:
            reason = StopReason.LOST
        elif cancel:
            reason = StopReason.CANCEL
        elif watched.deadline is not None and self.clock.now() >= watched.deadline:
            reason = StopReason.TIMEOUT
        if reason is not None and not watched.stop.is_set():
            watched.reasons.append(reason)
            watched.stop.set()

    def _finish(
        self,
        run_id: int,
        state: RunState,
        outcome: Outcome,
        sink: BufferedSink | None = None,
        reasons: list[StopReason] | None = None,
        tasks: bool = True,
        started_at: datetime | None = None,
        *,
        job_id: int,
        followed: bool = True,
    ) -> None:
        if reasons and reasons[0] is StopReason.LOST:
            return  # someone else ended it; nothing of ours to write
        self._ends.write(
            run_id, state, outcome, sink, stopped=bool(reasons), tasks=tasks,
            started_at=started_at, followed=followed, job_id=job_id,
        )  # fmt: skip

    def _forget(self, run_id: int) -> None:
        with self._lock:
            self._active.pop(run_id, None)


def _feed(run: claims.Claimed) -> TaskFeed | None:
    if not run.watch:
        return None
    return TaskFeed(run.job_id, run.run_id, run.started_at, run.only_path)


def one_file(run: claims.Claimed) -> dict[str, Any]:
    """A one-file run's parameters (a task's retry)."""
    assert run.only_path is not None
    if run.kind != "rclone":
        raise InvalidInput(f"a {run.kind} job cannot send one file alone")
    return rclone_params.one_file(run.params, run.only_path)


def _run_secrets(ctx: RunContext) -> list[str]:
    """The values a run's log and error must not show: its remotes' secrets and, for a
    job with an environment (a command), every value of it (all sealed alike)."""
    env = ctx.params.get("env")
    values = list(env.values()) if isinstance(env, dict) else []
    return [*secret_values(ctx.remotes), *(v for v in values if isinstance(v, str))]


def _urls(hooks: Hooks) -> list[str]:
    """Webhooks' URLs: secrets, never in the run's log or error."""
    return [h.url for items in hooks.values() for h in items if h.url]


def _context(
    run: claims.Claimed, state: RunState, outcome: Outcome, sink: BufferedSink
) -> HookContext:
    """What the hooks after the work are told: its state, error and counts."""
    stats = outcome.stats if outcome.stats != RunStats() else stats_of(sink)
    return HookContext(
        job=run.job_name,
        run_id=run.run_id,
        state=state.value,
        error=redact(outcome.error, sink.secrets) if outcome.error else "",
        bytes=stats.bytes,
        files=stats.files,
        deletes=stats.deletes,
    )


def _state_for(outcome: Outcome, reasons: list[StopReason]) -> RunState:
    if reasons:
        return {
            StopReason.CANCEL: RunState.CANCELLED,
            StopReason.TIMEOUT: RunState.TIMED_OUT,
            StopReason.SHUTDOWN: RunState.LOST,
            StopReason.LOST: RunState.LOST,
        }[reasons[0]]
    if outcome.error_class == "timed_out":  # rclone's --max-duration, set from our timeout
        return RunState.TIMED_OUT
    return RunState.SUCCEEDED if outcome.ok else RunState.FAILED


def _internal(exc: Exception) -> Outcome:
    # A remote or job that no longer exists, or secrets the key cannot open, will not
    # come back by retrying.
    permanent = isinstance(exc, NotFound | InvalidInput | SecretsUnreadable)
    # synchub's own errors are written for people; others are bugs, named by class.
    error = exc.message if isinstance(exc, SynchubError) else f"{type(exc).__name__}: {exc}"
    return Outcome(
        ok=False,
        error_class="config" if permanent else "internal",
        error=error,
        permanent=permanent,
    )
