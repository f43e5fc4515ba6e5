"""Pruning run history by the rules of `synchub.core.retention`: in the background on
the scheduler's leader, or now with `synchub runs prune`.

Every write is a short transaction of a bounded number of rows, whose size adapts
so that each takes about `STEP_S`; between two, pruning pauses as long as the last
one took, so the API and the runs always get the database half of the time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from synchub.core.errors import JobNotFound
from synchub.core.retention import DAY_S, KeepRuns, Retention, removable_ids
from synchub.store import alerts as alert_store
from synchub.store import retention as store
from synchub.store.db import reading, transaction
from synchub.store.retention import Group, Looked

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from synchub.services.context import Services

#: Runs looked at per read.
BATCH = 500
#: How long one write transaction of pruning should take, about.
STEP_S = 0.05
#: Rows one write may delete, at first and at most.
FIRST_ROWS, MOST_ROWS = 2000, 50_000
#: How long an ended run the alert pass has not looked at yet is kept at least.
UNSEEN_KEPT = timedelta(days=1)
#: Runs waiting to be pruned, looked for per job by the doctor, above which
#: pruning is behind.
BACKLOG_LIMIT = 10_000


@dataclass
class Pruned:
    """What a pruning pass took away (or, dry, would take)."""

    runs: int = 0  #: runs deleted, with their logs and change reports
    log_lines: int = 0  #: log lines deleted (of deleted runs and of runs kept)
    report_rows: int = 0  #: change-report rows deleted
    logs_of_runs: int = 0  #: kept runs whose logs and change report went
    tasks: int = 0  #: done file tasks deleted
    alert_messages: int = 0  #: delivered alert messages deleted from the outbox
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Backlog:
    """Runs that may go now (counted up to BACKLOG_LIMIT per job)."""

    runs: int
    oldest: datetime | None  #: when the oldest of them was created


class _Pace:
    """Sizes each write so that it takes about STEP_S, and pauses after it."""

    def __init__(self, pause: Callable[[float], object]) -> None:
        self.rows = FIRST_ROWS
        self.pause = pause

    @contextmanager
    def step(self) -> Iterator[int]:
        started = time.monotonic()
        yield self.rows
        took = time.monotonic() - started
        if took > STEP_S:
            self.rows = max(100, int(self.rows * STEP_S / took))
        elif took < STEP_S / 2:
            self.rows = min(MOST_ROWS, self.rows * 2)
        self.pause(took)


class RetentionService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        #: runs `backlog` counts at most: reaching it, pruning is behind
        self.backlog_limit = BACKLOG_LIMIT

    def rules(self, group: Group) -> Retention:
        """The group's rules: its job's own, else the settings'."""
        s = self.svc.settings
        if group.keep_runs_s is not None or group.keep_runs_count is not None:
            runs = KeepRuns(age_s=group.keep_runs_s, count=group.keep_runs_count)
        else:
            runs = KeepRuns(age_s=s.keep_runs_days * DAY_S, count=s.keep_runs_last or None)
        return Retention(runs, group.keep_logs_s or s.keep_logs_days * DAY_S)

    def prune_now(self, *, job: str | None = None, dry_run: bool = False) -> Pruned:
        """`synchub runs prune`: prune now (all jobs, or `job`'s runs), audited unless
        dry. JobNotFound when `job` names neither a job nor a deleted job's runs."""
        if job is not None:
            with reading(self.svc.sessions) as session:
                if not store.groups(session, job):
                    raise JobNotFound(f"No job named {job!r}, and no kept runs of one")
        pruned = self.prune(job=job, dry_run=dry_run)
        if not dry_run:
            with transaction(self.svc.sessions) as session:
                self.svc.audit_event(session, "runs.prune", job or "*", after=pruned.as_dict())
        return pruned

    def prune(
        self,
        *,
        job: str | None = None,
        dry_run: bool = False,
        keep_going: Callable[[], bool] = lambda: True,
        pause: Callable[[float], object] = time.sleep,
    ) -> Pruned:
        """One pass over every job (or `job`): runs, then logs, then file tasks and
        delivered alert messages. Stops between two writes once `keep_going()` is
        false (the lead was lost)."""
        pruned = Pruned(dry_run=dry_run)
        pace = _Pace(pause)
        store.analyze_unknown(self.svc.db)
        with reading(self.svc.sessions) as session:
            found = store.groups(session, job)
        for group in found:
            if not keep_going():
                break
            with reading(self.svc.sessions) as session:
                kept = store.protected(session, group)
            gone = self._runs(group, kept, pruned, pace, keep_going)
            self._logs(group, kept, pruned, pace, keep_going, skip=gone)
        if job is None and keep_going():
            self._tasks(pruned, pace, keep_going)
        if job is None and keep_going():
            self._alert_messages(pruned, pace, keep_going)
        if not dry_run and pruned.runs + pruned.logs_of_runs + pruned.tasks + pruned.alert_messages:
            self._give_back_space(keep_going)
        return pruned

    def _runs(
        self,
        group: Group,
        kept: set[int],
        pruned: Pruned,
        pace: _Pace,
        keep_going: Callable[[], bool],
    ) -> set[int]:
        """Prune the group's runs but those `kept` (its last success and failure);
        return the ids that went (dry: would go)."""
        rules = self.rules(group)
        cutoff = rules.runs_cutoff(self.svc.clock.now())
        unseen = self.svc.clock.now() - UNSEEN_KEPT
        counted: set[int] = set()  # dry: chains already counted
        below = None
        if rules.runs.count is not None:
            with reading(self.svc.sessions) as session:
                below = store.count_boundary(session, group, rules.runs.count)
            if below is None:
                return counted  # fewer runs than the count keeps

        def old(row: Looked) -> bool:
            return (below is None or row.id < below) and (cutoff is None or row.created_at < cutoff)

        after = 0
        while keep_going():
            with reading(self.svc.sessions) as session:
                rows = store.oldest(session, group, after=after, below=below, limit=BATCH)
                chained, retries = store.retry_chains(session, [r.id for r in rows])
            if not rows:
                break
            looked = {r.id: r for r in [*rows, *chained]}
            gone = removable_ids(
                [
                    store.candidate(r, old=old(r), kept=kept, unseen_before=unseen)
                    for r in looked.values()
                ],
                retries,
            )
            self._delete_runs(sorted(gone - counted), pruned, pace)
            counted |= gone
            after = rows[-1].id
            if len(rows) < BATCH or not old(rows[-1]):
                break  # the rest are younger
        return counted

    def _delete_runs(self, run_ids: Sequence[int], pruned: Pruned, pace: _Pace) -> None:
        if not run_ids:
            return
        if pruned.dry_run:
            with reading(self.svc.sessions) as session:
                lines, rows = store.count_children(session, run_ids, logs_only=False)
            pruned.runs += len(run_ids)
            pruned.log_lines += lines
            pruned.report_rows += rows
            return
        try:
            pruned.runs += self._delete_children(
                run_ids, pruned, pace, logs_only=False, then=store.delete_runs
            )
        finally:
            self.svc.activity.forget()  # the charts counted the runs that went

    def _delete_children(
        self,
        run_ids: Sequence[int],
        pruned: Pruned,
        pace: _Pace,
        *,
        logs_only: bool,
        then: Callable[[Session, Sequence[int]], int],
    ) -> int:
        """Delete the log lines and change-report rows of `run_ids`, a step at a time;
        in the step that deletes the last of them, `then(session, run_ids)` (delete
        the runs, or mark their logs pruned): one write for a few runs' worth."""
        while True:
            with pace.step() as rows, transaction(self.svc.sessions) as session:
                lines = store.delete_log_lines(session, run_ids, rows)
                reports = 0
                if lines < rows:
                    reports = store.delete_report_rows(
                        session, run_ids, rows - lines, logs_only=logs_only
                    )
                last = lines + reports < rows
                done = then(session, run_ids) if last else 0
            pruned.log_lines += lines
            pruned.report_rows += reports
            if last:
                return done

    def _logs(
        self,
        group: Group,
        kept: set[int],
        pruned: Pruned,
        pace: _Pace,
        keep_going: Callable[[], bool],
        *,
        skip: set[int],
    ) -> None:
        """Prune the logs of the group's runs that stay (`skip`: runs a dry pass
        counted as deleted already)."""
        cutoff = self.rules(group).logs_cutoff(self.svc.clock.now())
        unseen = self.svc.clock.now() - UNSEEN_KEPT
        after = 0
        while keep_going():
            with reading(self.svc.sessions) as session:
                rows = store.oldest(session, group, after=after, below=None, limit=BATCH, logs=True)
            old = [r for r in rows if r.created_at < cutoff]
            going = [
                r.id
                for r in old
                if r.id not in skip
                and store.candidate(r, old=True, kept=kept, unseen_before=unseen).removable
            ]
            if going:
                self._prune_logs(going, pruned, pace)
            if len(rows) < BATCH or len(old) < len(rows):
                return
            after = rows[-1].id

    def _prune_logs(self, run_ids: list[int], pruned: Pruned, pace: _Pace) -> None:
        if pruned.dry_run:
            with reading(self.svc.sessions) as session:
                lines, rows = store.count_children(session, run_ids, logs_only=True)
            pruned.log_lines += lines
            pruned.report_rows += rows
            pruned.logs_of_runs += len(run_ids)
            return
        pruned.logs_of_runs += self._delete_children(
            run_ids, pruned, pace, logs_only=True, then=store.mark_logs_pruned
        )

    def _tasks(self, pruned: Pruned, pace: _Pace, keep_going: Callable[[], bool]) -> None:
        before = self.svc.clock.now() - timedelta(days=self.svc.settings.keep_tasks_days)
        if pruned.dry_run:
            with reading(self.svc.sessions) as session:
                pruned.tasks = store.old_tasks(session, before, 10_000_000)
            return
        while keep_going():
            with pace.step() as rows, transaction(self.svc.sessions) as session:
                went = store.delete_tasks(session, before, rows)
            pruned.tasks += went
            if went < rows:
                return

    def _alert_messages(self, pruned: Pruned, pace: _Pace, keep_going: Callable[[], bool]) -> None:
        before = self.svc.clock.now() - timedelta(days=self.svc.settings.keep_alerts_days)
        if pruned.dry_run:
            with reading(self.svc.sessions) as session:
                pruned.alert_messages = alert_store.count_prunable(session, before)
            return
        while keep_going():
            with pace.step() as rows, transaction(self.svc.sessions) as session:
                went = alert_store.prune_delivered(session, before, rows)
            pruned.alert_messages += went
            if went < rows:
                return

    def _give_back_space(self, keep_going: Callable[[], bool]) -> None:
        """SQLite: return the freed pages to the file system, a few MiB at a time."""
        while keep_going() and store.give_back_space(self.svc.db):
            pass
        store.checkpoint(self.svc.db)

    def backlog(self) -> Backlog:
        """How many runs may go now, counted up to `backlog_limit` in all (many means
        pruning is behind or off). Each job's runs are read oldest first and only
        until the first one its rule keeps by age: cheap when nothing waits."""
        total, oldest = 0, None
        with reading(self.svc.sessions) as session:
            for group in store.groups(session):
                if total >= self.backlog_limit:
                    break
                going = self._waiting(session, group, self.backlog_limit - total)
                total += len(going)
                if going and (oldest is None or going[0].created_at < oldest):
                    oldest = going[0].created_at
        return Backlog(total, oldest)

    def _waiting(self, session: Session, group: Group, limit: int) -> list[Looked]:
        """Up to `limit` of the group's runs that may go now, oldest first (retry
        chains not followed: an estimate)."""
        now = self.svc.clock.now()
        rules = self.rules(group)
        cutoff, unseen = rules.runs_cutoff(now), now - UNSEEN_KEPT
        below = None
        if rules.runs.count is not None:
            below = store.count_boundary(session, group, rules.runs.count)
            if below is None:
                return []
        kept: set[int] | None = None
        found: list[Looked] = []
        after, page = 0, 20
        while len(found) < limit:
            rows = store.oldest(session, group, after=after, below=below, limit=page)
            old = [r for r in rows if cutoff is None or r.created_at < cutoff]
            if old and kept is None:
                kept = store.protected(session, group)
            found += [
                r
                for r in old
                if store.candidate(r, old=True, kept=kept or set(), unseen_before=unseen).removable
            ]
            if len(rows) < page or len(old) < len(rows):
                break
            after, page = rows[-1].id, min(BATCH, page * 5)
        return found[:limit]
