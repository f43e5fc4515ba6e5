"""How jobs are doing, at a glance: each job's last run and last success, which jobs
are failing or stale, what runs now, and the system's state. What the console's
dashboard and job list show; the rule for staleness lives here."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from synchub.core.errors import JobNotFound
from synchub.core.runs import RETRYABLE, RunState
from synchub.core.schedules import Schedule, ScheduleKind, gap_after
from synchub.services.jobs.job_views import JobView, LastRun
from synchub.services.jobs.views import job_view
from synchub.services.run_views import RunView, run_view
from synchub.store import chains as chain_store
from synchub.store import job_runs
from synchub.store import jobs as job_store
from synchub.store.db import reading
from synchub.store.tables import JobRow, RunRow

if TYPE_CHECKING:
    from synchub.services.context import Services

#: The shortest time without a success that makes a scheduled job stale.
MIN_STALE = timedelta(hours=1)
#: Running runs the overview lists at most.
RUNNING_SHOWN = 50


def stale_after(schedule: Schedule, now: datetime) -> timedelta | None:
    """How long a job with `schedule` may go without a success before it is stale:
    two of its periods (the gap between its next two fires), at least MIN_STALE.
    None for a job without a schedule: nobody said how often it should succeed."""
    if schedule.kind is ScheduleKind.NONE:
        return None
    gap = gap_after(schedule, now)
    return None if gap is None else max(MIN_STALE, 2 * gap)


@dataclass(frozen=True)
class JobStatus:
    """One job as the overview sees it."""

    job: JobView  #: as JobService.show gives it
    last: RunView | None  #: its newest run that started or ended
    last_success_at: str | None  #: when its last successful run ended (ISO 8601)
    failing: bool  #: enabled, and its last run failed, timed out or was lost
    stale_for: float | None  #: seconds without a success, when that is too long
    #: when its failing streak began (ISO 8601; see job_runs.failing_since_of_jobs)
    failing_since: str | None = None


@dataclass(frozen=True)
class Attention:
    """The first of the jobs that need attention, and how many do."""

    shown: builtins.list[JobStatus]
    count: int  #: failing or stale
    failing: int  #: of them, failing


class OverviewService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def jobs(
        self,
        *,
        tag: str | None = None,
        enabled: bool | None = None,
        search: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> tuple[builtins.list[JobStatus], bool]:
        """One page of jobs by name (as JobService.page filters them) with their
        status, and whether more follow."""
        views, more = self.svc.jobs.page(
            tag=tag, enabled=enabled, search=search, after=after, limit=limit
        )
        return self._statuses(views), more

    def board(
        self,
        *,
        tag: str | None = None,
        enabled: bool | None = None,
        search: str | None = None,
        after: str | None = None,
        limit: int = 50,
        attention: builtins.list[JobStatus] | None = None,
    ) -> tuple[builtins.list[JobStatus], bool]:
        """The dashboard's jobs: as `jobs` filters them, the failing ones first. The
        first page (`after` None) leads with every failing job that matches (by name,
        at most 1000), then the jobs by name without them; later pages (after the
        last name of the previous one) leave them out, shown already. `attention`,
        what `attention()` just answered, spares asking again which jobs fail."""
        found = self.attention() if attention is None else attention
        failed = {status.job.id for status in found if status.failing}
        lead: builtins.list[JobView] = []
        if failed and enabled is not False:  # a disabled job is never failing
            lead, _ = self.svc.jobs.page(
                tag=tag, enabled=True, search=search, ids=failed, limit=1000
            )
        rest, more = self.svc.jobs.page(
            tag=tag, enabled=enabled, search=search, not_ids={v.id for v in lead}, after=after,
            limit=limit,
        )  # fmt: skip
        shown = rest if after is not None else lead + rest
        return self._statuses(shown), more

    def _statuses(self, views: builtins.list[JobView]) -> builtins.list[JobStatus]:
        """The status of each of these job views: the same few queries for any number
        of jobs (no query per job)."""
        ids = [view.id for view in views]
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            latest = job_runs.latest_of_jobs(session, ids)
            successes = job_runs.last_success_of_jobs(session, ids)
            rows = {row.id: row for row in job_store.by_ids(session, set(ids))}
            failing = [i for i in ids if rows[i].enabled and _failed(latest.get(i))]
            since = job_runs.failing_since_of_jobs(session, failing)
            return [
                self._status(view, rows[view.id], latest, successes, now, since) for view in views
            ]

    def job(self, name: str) -> JobStatus:
        """One job with its status; JobNotFound for an unknown name."""
        view = self.svc.jobs.show(name)
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            row = job_store.get_by_id(session, view.id)
            if row is None:
                raise JobNotFound(f"No job named {name!r}")
            latest = job_runs.latest_of_jobs(session, [row.id])
            successes = job_runs.last_success_of_jobs(session, [row.id])
            since = job_runs.failing_since_of_jobs(session, [row.id])
            return self._status(view, row, latest, successes, now, since)

    def attention(self) -> builtins.list[JobStatus]:
        """The enabled jobs that are failing or stale: failing first, then the longest
        stale; each by name within."""
        return self.attention_page(None).shown

    def attention_page(self, limit: int | None) -> Attention:
        """The first `limit` (None: all) of `attention()`'s jobs, and how many there
        are. Every job is looked at in columns; only those shown are read whole."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            states = job_runs.latest_state_of_jobs(session)
            successes = job_runs.last_success_of_jobs(session)
            needing = []
            for job_id, name, created_at, schedule in job_store.enabled_schedules(session):
                failing = RunState(states.get(job_id, RunState.PENDING)) in RETRYABLE
                stale = _stale_since(created_at, schedule, successes.get(job_id), now)
                if failing or stale is not None:
                    needing.append((not failing, -(stale or 0), name, job_id))
            needing.sort()
            first = [job_id for *_order, job_id in needing[:limit]]
            rows = {row.id: row for row in job_store.by_ids(session, set(first))}
            latest = job_runs.latest_of_jobs(session, first)
            since = job_runs.failing_since_of_jobs(
                session, [i for i in first if _failed(latest.get(i))]
            )
            links = chain_store.all_links(session)
            shown = [
                self._status(job_view(rows[i], now, links), rows[i], latest, successes, now, since)
                for i in first
            ]
        failing_count = sum(1 for order in needing if not order[0])
        return Attention(shown, len(needing), failing_count)

    def last_runs(self, job_ids: Iterable[int] | None = None) -> dict[int, LastRun]:
        """Each job's (of `job_ids`, or of every job) newest run that started or
        ended, by job id; jobs without one are left out. The same few queries for any
        number of jobs (`latest_of_jobs`), so a long job list does not ask once per job."""
        with reading(self.svc.sessions) as session:
            latest = job_runs.latest_of_jobs(session, job_ids)
        return {
            job_id: LastRun(
                id=run.id,
                state=run.state,
                attempt=run.attempt,
                dry_run=run.dry_run,
                at=(run.finished_at or run.started_at or run.created_at).isoformat(),
            )
            for job_id, run in latest.items()
        }

    def running(self) -> builtins.list[tuple[RunView, dict[str, Any]]]:
        """The runs running now, newest first (at most RUNNING_SHOWN), each with its
        job's parameters (empty for a deleted job's)."""
        runs = self.svc.runs.page(states=[RunState.RUNNING.value], limit=RUNNING_SHOWN)
        names = {run.job for run in runs}
        with reading(self.svc.sessions) as session:
            params = job_store.params_by_name(session, names)
        return [(run, params.get(run.job, {})) for run in runs]

    def _status(
        self,
        view: JobView,
        row: JobRow,
        latest: dict[int, RunRow],
        successes: dict[int, datetime],
        now: datetime,
        since: dict[int, datetime],
    ) -> JobStatus:
        last = latest.get(row.id)
        success = successes.get(row.id)
        failing = row.enabled and _failed(last)
        began = since.get(row.id) if failing else None
        return JobStatus(
            job=view,
            last=run_view(last, retry_scheduled=False) if last is not None else None,
            last_success_at=success.isoformat() if success else None,
            failing=failing,
            stale_for=_stale_for(row, success, now) if row.enabled else None,
            failing_since=began.isoformat() if began else None,
        )


def _failed(run: RunRow | None) -> bool:
    return run is not None and RunState(run.state) in RETRYABLE


def _stale_for(row: JobRow, last_success: datetime | None, now: datetime) -> float | None:
    """Seconds since the job's last success (or since it was made, if it never
    succeeded), when longer than `stale_after` allows; else None."""
    return _stale_since(row.created_at, job_store.schedule_of(row), last_success, now)


def _stale_since(
    created_at: datetime, schedule: Schedule, last_success: datetime | None, now: datetime
) -> float | None:
    since = now - (last_success or created_at)
    if since <= MIN_STALE:  # the common case, without computing fire times
        return None
    limit = stale_after(schedule, now)
    if limit is None:
        return None
    return since.total_seconds() if since > limit else None
