"""Writing a run's end: its last lines and files, its state and outcome, its retry and
chained runs (`end_run`), through a database outage, and on PostgreSQL most often as
one statement left behind: carried by the next claim's statement, or written by a
thread of its own when no claim comes soon."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from synchub.core.clock import Clock
from synchub.core.redact import redact
from synchub.core.runs import RETRYABLE, RunState, RunStats, SkipReason, not_retried_note
from synchub.engines.base import Outcome
from synchub.execution.outcomes import end_run, ends_alone
from synchub.execution.patience import patiently
from synchub.execution.sink import BufferedSink
from synchub.execution.windows import SHUT
from synchub.store import runs as run_store
from synchub.store.claim import EndMove
from synchub.store.db import again_if_disconnected, autocommit, is_postgresql, transaction
from synchub.store.outage import is_outage

log = logging.getLogger(__name__)


class _Left:
    """An end left behind: carried by one claim or written by the end thread, never
    both (`take`)."""

    def __init__(self, move: EndMove) -> None:
        self.move = move
        #: set when a claim carries it, or at close: the end thread waits no longer
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._taken = False

    def take(self) -> bool:
        """True for the first taker alone."""
        with self._lock:
            taken, self._taken = self._taken, True
            return not taken


class Ends:
    """Writes the ends of one runner's runs."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        lease_s: float,
        behind: bool,
        carry_wait_s: float = 0.05,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        #: how long an end is tried again through an outage (the run lease)
        self.lease_s = lease_s
        #: leave an end that is one statement to the end thread (see RunnerSettings)
        self.behind = behind
        #: how long an end left behind waits for the next claim to carry it before the
        #: end thread writes it alone (see RunnerSettings)
        self.carry_wait_s = carry_wait_s
        #: the ends left behind that no claim carried yet, woken at close
        self._waiting: set[_Left] = set()
        self._waiting_lock = threading.Lock()
        #: the thread that writes ends behind, made on first use
        self._ender: ThreadPoolExecutor | None = None
        #: per calling thread, `.last`: the end it left to that thread, if any, and
        #: `.job`: that run's job
        self._left = threading.local()

    def write(
        self,
        run_id: int,
        state: RunState,
        outcome: Outcome,
        sink: BufferedSink | None = None,
        *,
        stopped: bool = False,
        tasks: bool = True,
        started_at: datetime | None = None,
        followed: bool = True,
        job_id: int,
    ) -> None:
        """Write the run's end. `stopped`: a cancel, the timeout or a shutdown stopped
        it; `followed`: jobs may run after this one (False as its claim found none), so
        the end goes through `end_run`, which requests their runs."""
        values = self._values(state, outcome, sink, stopped=stopped, started_at=started_at)
        finished_at = self.clock.now()
        # Most ends are one UPDATE (nothing buffered, no file tasks, no retry): on
        # PostgreSQL that is one statement in autocommit, without BEGIN and COMMIT.
        alone = (
            not tasks
            and not followed
            and (sink is None or sink.empty())
            and ends_alone(state, permanent=outcome.permanent)
            and is_postgresql(self.sessions)
        )

        def finish() -> None:
            if alone:
                with autocommit(self.sessions) as conn:
                    run_store.move(
                        conn,
                        run_id,
                        state,
                        expected=[RunState.RUNNING],
                        finished_at=finished_at,
                        **values,
                    )
                return
            try:
                with transaction(self.sessions) as session:
                    if sink is not None:
                        sink.flush(session)
                    end_run(
                        session,
                        run_id,
                        state,
                        now=self.clock.now(),
                        permanent=outcome.permanent,
                        tasks=tasks,
                        chains=followed,
                        **values,
                    )
            except Exception:
                if sink is not None:
                    sink.put_back()  # the next try writes them (a full disk, an outage)
                raise

        if alone and self.behind:
            move = EndMove(run_id, job_id, state, {"finished_at": finished_at, **values})
            self._leave(finish, move)
            return
        self._write(run_id, finish)

    def _values(
        self,
        state: RunState,
        outcome: Outcome,
        sink: BufferedSink | None,
        *,
        stopped: bool,
        started_at: datetime | None,
    ) -> dict[str, Any]:
        """The columns the end sets, besides its state and time."""
        stats = outcome.stats if outcome.stats != RunStats() or sink is None else stats_of(sink)
        if started_at is not None and state in (RunState.TIMED_OUT, RunState.CANCELLED):
            # rclone's last stats line is up to a tick old, or missing after a kill:
            # the run lasted until it was stopped.
            wall = (self.clock.now() - started_at).total_seconds()
            stats = replace(stats, elapsed_s=max(wall, stats.elapsed_s))
        error = redact(outcome.error, sink.secrets) if outcome.error and sink else outcome.error
        if state is RunState.TIMED_OUT:
            error = "The job's timeout passed; the run was stopped"
        elif state is RunState.LOST:
            error = "synchub stopped while the run was running; it was interrupted"
        values: dict[str, Any] = {
            "exit_code": outcome.exit_code,
            "error_class": _error_class(state, outcome),
            "error": None if state is RunState.SUCCEEDED else error,
            "stats": stats.as_dict(),
            "progress": None,
        }
        if state is RunState.SKIPPED:
            shut = outcome.error_class == SHUT.error_class
            values["reason"] = (SkipReason.WINDOW if shut else SkipReason.HOOK).value
        if state is RunState.CANCELLED and stopped:
            del values["error"]  # the cancel wrote who asked for it (RunService.cancel)
        if state in RETRYABLE and outcome.permanent:
            values["next_step"] = not_retried_note(values["error_class"])
        if outcome.dry_run:  # e.g. the job gained --dry-run after the run was created
            values["dry_run"] = True
        return values

    def _write(self, run_id: int, finish: Callable[[], None]) -> None:
        """Write a run's end, trying again through a database outage for up to the run
        lease: past it the reaper has ended (or will end) the run as lost and retried
        it, so a pool slot is never held forever. The end is a conditional update: a
        try after a lost commit that went through changes nothing."""
        try:
            patiently(
                f"run {run_id}'s end", lambda: again_if_disconnected(finish), lease_s=self.lease_s
            )
        except Exception as exc:
            if not is_outage(exc):
                raise
            log.warning(
                "run %s: its end could not be written within its lease; it will be reaped as lost",
                run_id,
                extra={"action": "end_failed"},
            )

    def _leave(self, finish: Callable[[], None], move: EndMove) -> None:
        """Leave the end behind: the next claim of this thread carries it (`carry`)
        or, when none comes within `carry_wait_s`, the end thread writes it. If this
        process dies before it is in, the run is reaped as lost and retried by
        policy, as when it dies just before writing it itself; a second delivery of
        its message finds it claimed."""
        self.wait()
        left = _Left(move)
        with self._waiting_lock:
            self._waiting.add(left)

        def end() -> None:
            left.wake.wait(self.carry_wait_s)
            with self._waiting_lock:
                self._waiting.discard(left)
            if left.take():
                self._write_logged(move.run_id, finish)

        self._left.pending = left
        self._left.finish = finish
        self._submit(end, move.job_id)

    def _submit(self, end: Callable[[], None], job_id: int) -> None:
        if self._ender is None:
            self._ender = ThreadPoolExecutor(1, thread_name_prefix="synchub-run-end")
        self._left.last = self._ender.submit(end)
        self._left.job = job_id

    def _write_logged(self, run_id: int, finish: Callable[[], None]) -> None:
        try:
            self._write(run_id, finish)
        except Exception:
            log.exception(
                "run %s: its end could not be written; it will be reaped as lost",
                run_id,
                extra={"action": "end_failed"},
            )

    def carry(self) -> EndMove | None:
        """The end this thread left behind, for its next claim to write in the same
        statement (`claims.take`); None when there is none or the end thread has it.
        A claim that fails gives it back (`carried`)."""
        left: _Left | None = getattr(self._left, "pending", None)
        self._left.pending = None
        if left is None or not left.take():
            return None
        left.wake.set()
        return left.move

    def carried(self, move: EndMove, *, written: bool) -> None:
        """After the claim that carried `move`: nothing more when it was written;
        otherwise (the claim failed) the end thread writes it."""
        if written:
            self._left.last = None  # nothing left for the end thread to write
            return
        finish: Callable[[], None] = self._left.finish
        self._submit(lambda: self._write_logged(move.run_id, finish), move.job_id)

    def unended_job(self) -> int | None:
        """The job of the run whose end this thread left behind, while that end is not
        written yet; None when there is no such end."""
        last: Future[None] | None = getattr(self._left, "last", None)
        if last is None or last.done():
            return None
        job: int = self._left.job
        return job

    def wait(self) -> None:
        """Wait until the end this thread left behind is written (or carried)."""
        last: Future[None] | None = getattr(self._left, "last", None)
        if last is not None:
            self._left.last = None
            last.result()

    def close(self) -> None:
        """Wait until every end left behind is written (at process exit)."""
        with self._waiting_lock:
            for left in self._waiting:
                left.wake.set()
        ender, self._ender = self._ender, None
        if ender is not None:
            ender.shutdown(wait=True)


def stats_of(sink: BufferedSink) -> RunStats:
    """A run's figures from its last progress, for an engine that reported none."""
    p = sink.last_progress
    if p is None:
        return RunStats()
    speed = p.bytes / p.elapsed_s if p.elapsed_s else 0.0
    return RunStats(
        bytes=p.bytes,
        files=p.transfers,
        checks=p.checks,
        deletes=p.deletes,
        renames=p.renames,
        errors=p.errors,
        elapsed_s=p.elapsed_s,
        speed_bps=speed,
    )


def _error_class(state: RunState, outcome: Outcome) -> str | None:
    if state is RunState.SUCCEEDED:
        return None
    return outcome.error_class if state is RunState.FAILED else state.value
