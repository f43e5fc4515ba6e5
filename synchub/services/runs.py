"""Runs: request, cancel, retry, and read state, logs and change reports."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.orm import Session

from synchub.core.errors import (
    InvalidInput,
    InvalidTransition,
    JobDeleted,
    JobNotFound,
    RunNotFound,
)
from synchub.core.names import check_name
from synchub.core.policies import OverlapPolicy
from synchub.core.runs import (
    LOG_LEVELS,
    TERMINAL,
    WAITING,
    CancelReason,
    FileAction,
    RunState,
    Trigger,
    severe_enough,
)
from synchub.services.run_views import (
    FileChange,
    Histogram,
    LogLine,
    RunEnded,
    RunFigures,
    RunView,
    SchedulerState,
    check_instant,
    file_view,
    log_view,
    run_view,
)
from synchub.store import jobs as job_store
from synchub.store import leases, run_metrics
from synchub.store import logs as log_store
from synchub.store import runs as store
from synchub.store.db import reading, transaction
from synchub.store.leases import SCHEDULER as SCHEDULER_LEASE
from synchub.store.tables import RunLogRow, RunRow

if TYPE_CHECKING:
    from synchub.services.context import Services
    from synchub.services.restore import RunRestored


class RunService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def request(
        self,
        job_name: str,
        trigger: Trigger = Trigger.MANUAL,
        *,
        dry_run: bool = False,
        allow_deletes: bool = False,
        resync: bool = False,
    ) -> int:
        """Create a pending run of the job now; the scheduler dispatches it. See
        `request_many` for `dry_run` and `allow_deletes`."""
        (run_id,) = self.request_many(
            [job_name], trigger=trigger, dry_run=dry_run, allow_deletes=allow_deletes,
            resync=resync,
        )  # fmt: skip
        return run_id

    def cancel(self, run_id: int) -> RunView:
        """Cancel a run: at once if it has not started, else ask its runner to stop."""
        now = self.svc.clock.now()
        by = f"cancelled by {self.svc.actor}"  # the run's error: who, not how it stopped
        with transaction(self.svc.sessions) as session:
            run = self._get(session, run_id)
            state = RunState(run.state)
            if state in WAITING:
                if not store.move(
                    session,
                    run_id,
                    RunState.CANCELLED,
                    expected=[state],
                    finished_at=now,
                    reason=CancelReason.REQUESTED.value,
                    error=by,
                ):
                    raise InvalidTransition(f"Run {run_id} changed state meanwhile: try again")
            elif state is RunState.RUNNING:
                store.request_cancel(session, run_id, error=by)
            else:
                raise InvalidTransition(f"Run {run_id} has already ended ({state.value})")
        self.svc.on_change()
        return self.show(run_id)

    def retry(self, run_id: int) -> int:
        """A new attempt of an ended run, now. InvalidTransition while it has not
        ended; JobDeleted when its job was deleted (its history kept)."""
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            run = self._get(session, run_id)
            if RunState(run.state) not in TERMINAL:
                raise InvalidTransition(f"Run {run_id} has not ended yet ({run.state})")
            job = None
            if run.job_id is not None:
                job = job_store.get_by_id(session, run.job_id, share=True)
            if job is None:
                raise JobDeleted(
                    f"Job {run.job_name!r} was deleted: run {run_id} is kept as history "
                    "and cannot be retried"
                )
            new_id = store.create_retry(session, run, job, now=now, not_before=None)
        assert new_id is not None
        self.svc.on_change()
        return new_id

    def show(self, run_id: int) -> RunView:
        """The run, with its change report's rows counted by action."""
        # Reads take no write lock (on SQLite a `transaction` does): a reader, or a
        # follower polling twice a second, must not queue behind the runners' writes.
        with reading(self.svc.sessions) as session:
            run = self._get(session, run_id)
            view = run_view(run, bool(store.retried(session, [run])))
            return replace(view, files_summary=log_store.file_counts(session, run_id))

    def list(
        self,
        *,
        job: str | None = None,
        state: str | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> builtins.list[RunView]:
        """Runs newest first, as `page` gives them; `state` may list several, comma-separated."""
        states = state.split(",") if state else []
        return self.page(job=job, states=states, limit=limit, before_id=before_id)

    def logs(self, run_id: int, after_seq: int = 0) -> builtins.list[LogLine]:
        """Log lines after `after_seq`; a gap in `seq` marks lines the cap dropped."""
        with reading(self.svc.sessions) as session:
            self._get(session, run_id)
            return [
                log_view(line) for line in log_store.lines(session, run_id, after_seq=after_seq)
            ]

    def files(self, run_id: int) -> builtins.list[FileChange]:
        with reading(self.svc.sessions) as session:
            self._get(session, run_id)
            return [file_view(f) for f in log_store.files(session, run_id)]

    def file_page(
        self, run_id: int, *, action: str | None = None, after: int = 0, limit: int = 100
    ) -> tuple[builtins.list[FileChange], bool]:
        """One page of a run's change report, in the order written: at most `limit`
        rows after row `after` (the `row` of the previous page's last), of one action
        (see FileAction) or all, and whether more follow. InvalidInput for an unknown
        action or a bad limit; RunNotFound for an unknown run."""
        if limit < 1 or limit > 1000:
            raise InvalidInput("Bad limit: use a number from 1 to 1000")
        if action is not None:
            _member(FileAction, action, "action")
        with reading(self.svc.sessions) as session:
            self._get(session, run_id)
            rows = log_store.files_page(
                session, run_id, action=action, after_id=after, limit=limit + 1
            )
            return [file_view(f) for f in rows[:limit]], len(rows) > limit

    def restore(self, run_id: int, path: str | None = None) -> RunRestored:
        """Copy back what the run kept; see services.restore.restore_run."""
        from synchub.services.restore import restore_run

        return restore_run(self.svc, run_id, path)

    def retried_by(self, run_id: int) -> int | None:
        """The id of the run that retries this one, if one does."""
        with reading(self.svc.sessions) as session:
            return store.retry_of_run(session, self._get(session, run_id))

    def follow(self, run_id: int, *, poll_s: float = 0.5) -> Iterator[LogLine | RunEnded]:
        """Yield log lines as they come, then the run once it has ended."""
        import threading

        seq = 0
        idle = threading.Event()
        while True:
            view = self.show(run_id)
            for line in self.logs(run_id, after_seq=seq):
                seq = line.seq
                yield line
            if view.ended:
                yield RunEnded(view)
                return
            self.svc.clock.sleep(poll_s, idle)

    def request_many(
        self,
        job_names: Sequence[str],
        *,
        trigger: Trigger = Trigger.API,
        queue: str | None = None,
        dry_run: bool = False,
        allow_deletes: bool = False,
        resync: bool = False,
    ) -> builtins.list[int]:
        """One pending run of each job, in one transaction: all or none (JobNotFound
        names the first unknown job). `queue` overrides the jobs' own queue.

        `dry_run`: the runs change nothing and report what they would change (rclone
        jobs only). `allow_deletes`: the runs pass their jobs' delete guard and
        empty-source stop, once; each such run is audited (`run.allow_deletes`).
        `resync`: bisync jobs only, the run rebuilds bisync's listings (`--resync`),
        audited (`run.resync`). InvalidInput for dry_run with allow_deletes."""
        if queue is not None:
            check_name(queue, what="queue")
        if dry_run and allow_deletes:
            raise InvalidInput("Give dry_run or allow_deletes, not both: a dry run deletes nothing")
        now = self.svc.clock.now()
        ids: builtins.list[int] = []
        with transaction(self.svc.sessions) as session:
            for name in dict.fromkeys(job_names):  # each job once, in the order given
                job = job_store.get(session, name, share=True)
                if job is None:
                    raise JobNotFound(f"No job named {name!r}")
                if dry_run and job.kind != "rclone":
                    raise InvalidInput(f"Job {name!r} is a {job.kind} job: only rclone jobs "
                                       "can do a dry run")  # fmt: skip
                if resync and (job.kind != "rclone" or job.params.get("op") != "bisync"):
                    raise InvalidInput(f"Job {name!r} is not a bisync job: only bisync "
                                       "jobs resync")  # fmt: skip
                run_id = store.create(
                    session, job, trigger=trigger, now=now, queue=queue, dry_run=dry_run,
                    allow_deletes=allow_deletes, resync=resync,
                )  # fmt: skip
                assert run_id is not None
                ids.append(run_id)
                # A run asked for by a person is told at once that its job is busy,
                # rather than shown queued and later skipped.
                if job.overlap == OverlapPolicy.SKIP.value:
                    store.skip_if_job_running(session, run_id, job.id, now)
                for asked, action in ((allow_deletes, "run.allow_deletes"),
                                      (resync, "run.resync")):  # fmt: skip
                    if asked:
                        asked_for = {"run": run_id}
                        self.svc.audit_event(
                            session, action, name, at=now, target_type="job", after=asked_for
                        )
        if ids:
            self.svc.on_change()
        return ids

    def page(
        self,
        *,
        job: str | None = None,
        states: Sequence[str] = (),
        triggers: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> builtins.list[RunView]:
        """Runs newest first, filtered by job, states, triggers and creation time in
        [since, until); continue with `before_id` = the last id of the previous page.
        `job` is a job name: the runs of that job and the kept runs of deleted jobs
        that had the name. InvalidInput for an unknown state or trigger, a bad limit
        or a naive time; JobNotFound for a name no job and no run has."""
        if limit < 1 or limit > 1000:
            raise InvalidInput("Bad limit: use a number from 1 to 1000")
        wanted_states = [_member(RunState, s, "state") for s in states]
        wanted_triggers = [_member(Trigger, t, "trigger") for t in triggers]
        since, until = check_instant(since, "since"), check_instant(until, "until")
        with reading(self.svc.sessions) as session:
            if (
                job is not None
                and job_store.get(session, job) is None
                and not store.has_job_name(session, job)
            ):
                raise JobNotFound(f"No job named {job!r}")
            rows = store.page(
                session,
                job_name=job,
                states=wanted_states,
                triggers=wanted_triggers,
                since=since,
                until=until,
                before_id=before_id,
                limit=limit,
            )
            retried = store.retried(session, rows)
            return [run_view(run, run.id in retried) for run in rows]

    def log_page(
        self, run_id: int, *, after_seq: int = 0, limit: int = 1000
    ) -> builtins.list[LogLine]:
        """At most `limit` log lines after `after_seq` (see `logs`)."""
        if limit < 1 or limit > 10_000:
            raise InvalidInput("Bad limit: use a number from 1 to 10000")
        if after_seq < 0:
            raise InvalidInput("Bad after: it cannot be negative")
        with reading(self.svc.sessions) as session:
            self._get(session, run_id)
            lines = log_store.lines(session, run_id, after_seq=after_seq, limit=limit)
            return [log_view(line) for line in lines]

    def log_search(
        self,
        run_id: int,
        *,
        after_seq: int = 0,
        limit: int = 500,
        level: str | None = None,
        search: str | None = None,
    ) -> tuple[builtins.list[LogLine], int]:
        """At most `limit` log lines after `after_seq` at `level` or more severe (see
        core.runs.severe_enough) whose message holds `search` in any case (as
        casefold sees it, the same on every database); and the seq to continue after:
        the last line looked at, so a follow does not read the lines it passed over
        again. InvalidInput for an unknown level or a bad limit."""
        if limit < 1 or limit > 10_000:
            raise InvalidInput("Bad limit: use a number from 1 to 10000")
        if level and level not in LOG_LEVELS:
            raise InvalidInput(f"Bad level {level[:20]!r}: one of {', '.join(LOG_LEVELS)}")
        keep = log_filter(level, search)
        found: builtins.list[LogLine] = []
        seq = max(0, after_seq)
        with reading(self.svc.sessions) as session:
            self._get(session, run_id)
            while len(found) < limit:
                chunk = log_store.lines(session, run_id, after_seq=seq, limit=_LOG_CHUNK)
                for line in chunk:
                    seq = line.seq
                    if keep(line):
                        found.append(log_view(line))
                        if len(found) == limit:
                            break
                if len(chunk) < _LOG_CHUNK:
                    break
        return found, seq

    def take_pending(self, run_id: int) -> bool:
        """Move pending run `run_id` to queued for the caller to execute it in its own
        process (`job run --wait` with no server up). False when another process took
        it first."""
        with transaction(self.svc.sessions) as session:
            return store.move(
                session,
                run_id,
                RunState.QUEUED,
                expected=[RunState.PENDING],
                queued_at=self.svc.clock.now(),
            )

    def scheduler_alive(self) -> bool:
        """True when some scheduler holds a live lease on this database: a server is up
        to dispatch the runs requested."""
        with reading(self.svc.sessions) as session:
            lease = leases.current(session, SCHEDULER_LEASE)
        return lease is not None and lease.expires_at > self.svc.clock.now()

    def scheduler_status(self) -> SchedulerState:
        """Who leads the schedulers and how far behind dispatch is, from the database."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            lease = leases.current(session, SCHEDULER_LEASE)
            return SchedulerState(
                leader=lease.holder if lease else None,
                lease_expires_at=lease.expires_at.isoformat() if lease else None,
                leader_alive=bool(lease and lease.expires_at > now),
                due_not_dispatched=run_metrics.count_due_pending(session, now),
                pending=run_metrics.count_in_state(session, RunState.PENDING),
                queued=run_metrics.count_in_state(session, RunState.QUEUED),
                running=run_metrics.count_in_state(session, RunState.RUNNING),
            )

    def waiting_by_queue(self) -> dict[str, int]:
        """Runs pending or queued, per queue."""
        with reading(self.svc.sessions) as session:
            return dict(run_metrics.depth_by_queue(session))

    def figures(
        self, *, duration_buckets: Sequence[float], lateness_buckets: Sequence[float]
    ) -> RunFigures:
        """Aggregates for monitoring, from the database (so they cover every process)."""
        with reading(self.svc.sessions) as session:
            return RunFigures(
                totals=run_metrics.totals_by_job_and_state(session),
                duration=Histogram(*run_metrics.histogram(session, "duration", duration_buckets)),
                lateness=Histogram(*run_metrics.histogram(session, "lateness", lateness_buckets)),
                queues=run_metrics.depth_by_queue(session),
                last_success=run_metrics.last_success_by_job(session),
            )

    def _get(self, session: Session, run_id: int) -> RunRow:
        run = store.get(session, run_id)
        if run is None:
            raise RunNotFound(f"No run with id {run_id}")
        return run


def log_filter(level: str | None, search: str | None) -> Callable[[LogLine | RunLogRow], bool]:
    """Whether a log line is at `level` or more severe (see core.runs.severe_enough)
    and its message holds `search` in any case (as casefold sees it, the same on
    every database): `log_search`'s rule, for the live log too."""
    needle = (search or "").casefold()

    def keep(line: LogLine | RunLogRow) -> bool:
        return (not level or severe_enough(line.level, level)) and needle in line.message.casefold()

    return keep


M = TypeVar("M", RunState, Trigger, FileAction)


def _member(enum: type[M], value: str, what: str) -> M:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInput(f"Bad {what} {value!r}: use one of {allowed}") from None


#: Log lines read at a time while searching a run's log.
_LOG_CHUNK = 1000
