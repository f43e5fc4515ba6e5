"""How jobs are doing, at a glance: each job's last run and last success, which jobs
are failing or stale, what runs now, and the system's state. What the console's
dashboard and job list show; the rule for staleness lives here."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from synchub.core.errors import JobNotFound
from synchub.core.runs import RETRYABLE, RunState
from synchub.core.schedules import Schedule, ScheduleKind
from synchub.core.staleness import MIN_STALE, stale_after, stale_for
from synchub.services.jobs.job_views import JobView, LastRun, ScheduleView
from synchub.services.jobs.views import job_view
from synchub.services.run_views import RunView, run_view
from synchub.store import chains as chain_store
from synchub.store import job_runs, job_summary
from synchub.store import jobs as job_store
from synchub.store.db import reading
from synchub.store.tables import JobRow, RunRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from synchub.services.context import Services

__all__ = ["MIN_STALE", "Attention", "JobStatus", "OverviewService", "stale_after"]

#: Running runs the overview lists at most.
RUNNING_SHOWN = 50


@dataclass(frozen=True)
class JobStatus:
    """One job as the overview sees it."""

    job: JobView  #: as JobService.show gives it
    last: RunView | None  #: its newest run that started or ended
    last_success_at: str | None  #: when its last successful run ended (ISO 8601)
    failing: bool  #: enabled, and its last run failed, timed out or was lost
    stale_for: float | None  #: seconds without a success, when that is too long
    #: when its failing streak began: the end of its first failed run since its last
    #: success (ISO 8601)
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

    def dashboard(
        self,
        attention_limit: int,
        *,
        tag: str | None = None,
        enabled: bool | None = None,
        search: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> tuple[Attention, builtins.list[JobStatus], bool]:
        """What the dashboard shows: `attention_page(attention_limit)`, and one page of
        jobs by name (as `jobs` filters them) with whether more follow. The first page
        (`after` None) leads with the failing jobs the panel shows that match: at most
        `attention_limit` more rows, however many fail (the panel links to all of
        them); later pages (after the last name of the previous one) leave them out,
        shown already. Read in one session: a job shown in both is read and judged
        once; the summaries, the newest runs and the chain links are read once for
        all."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            running = job_summary.newest_running(session)
            superseded = job_summary.superseded(session, running)
            first, count, failing_count = _first_needing(session, now, attention_limit, superseded)
            failing_first = [n.job_id for n in first if n.failing]
            board, more = _board_rows(
                session, set(failing_first), tag, enabled, search, after, limit
            )
            panel = [n.job_id for n in first[:attention_limit]]
            on_board = {row.id for row in board}
            rows = board + job_store.by_ids(session, set(panel) - on_board)
            statuses = _statuses_of(session, rows, now, running)
        attention = Attention([statuses[i] for i in panel], count, failing_count)
        return attention, [statuses[row.id] for row in board], more

    def needing(
        self,
        state: str,
        *,
        tag: str | None = None,
        search: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> tuple[builtins.list[JobStatus], bool]:
        """One page, by name, of the jobs that are failing (`state` "failing") or
        stale (any other), as `jobs` filters them, and whether more follow."""
        now = self.svc.clock.now()
        failing = state == "failing"
        with reading(self.svc.sessions) as session:
            superseded = job_summary.superseded(session)
            wanted = job_summary.needing_ids(session, now, superseded, failing=failing)
            wanted |= {n.job_id for n in _unsure(session, now, superseded) if _is(n, failing)}
        if not wanted:
            return [], False
        views, more = self.svc.jobs.page(
            tag=tag, enabled=True, search=search, ids=wanted, after=after, limit=limit
        )
        return self._statuses(views), more

    def _statuses(self, views: builtins.list[JobView]) -> builtins.list[JobStatus]:
        """The status of each of these job views: the same few queries for any number
        of jobs (no query per job)."""
        with reading(self.svc.sessions) as session:
            return self._statuses_in(session, views, self.svc.clock.now())

    @staticmethod
    def _statuses_in(
        session: Session, views: builtins.list[JobView], now: datetime
    ) -> builtins.list[JobStatus]:
        ids = [view.id for view in views]
        summaries = job_summary.of_jobs(session, ids)
        latest = job_runs.latest_of_jobs(session, ids, summaries=summaries)
        return [_status(view, latest.get(view.id), summaries.get(view.id), now) for view in views]

    def job(self, name: str) -> JobStatus:
        """One job with its status; JobNotFound for an unknown name."""
        view = self.svc.jobs.show(name)
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            if job_store.get_by_id(session, view.id) is None:
                raise JobNotFound(f"No job named {name!r}")
            latest = job_runs.latest_of_jobs(session, [view.id])
            summary = job_summary.of_jobs(session, [view.id]).get(view.id)
            return _status(view, latest.get(view.id), summary, now)

    def attention(self) -> builtins.list[JobStatus]:
        """The enabled jobs that are failing or stale: failing first, then the longest
        stale; each by name within."""
        return self.attention_page(None).shown

    def attention_page(self, limit: int | None) -> Attention:
        """The first `limit` (None: all) of `attention()`'s jobs and how many there
        are. Only the jobs shown are read whole; which need attention, the
        summaries' indexes tell."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            first, count, failing_count = _first_needing(session, now, limit)
            ids = [n.job_id for n in first]
            rows = {row.id: row for row in job_store.by_ids(session, set(ids))}
            summaries = job_summary.of_jobs(session, ids)
            latest = job_runs.latest_of_jobs(session, ids, summaries=summaries)
            links = chain_store.all_links(session)
            shown = [
                _status(job_view(rows[i], now, links), latest.get(i), summaries.get(i), now)
                for i in ids
            ]
        return Attention(shown, count, failing_count)

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


def _board_rows(
    session: Session,
    failed: set[int],
    tag: str | None,
    enabled: bool | None,
    search: str | None,
    after: str | None,
    limit: int,
) -> tuple[builtins.list[JobRow], bool]:
    """The rows of `board`'s page, and whether more follow: on the first page
    (`after` None) the `failed` jobs that match lead."""
    lead: builtins.list[JobRow] = []
    if failed and enabled is not False:  # a disabled job is never failing
        lead = job_store.find(session, tag=tag, enabled=True, search=search, ids=failed, limit=1000)
    rest = job_store.find(
        session, tag=tag, enabled=enabled, search=search,
        not_ids={row.id for row in lead}, after_name=after, limit=limit + 1,
    )  # fmt: skip
    shown = rest[:limit] if after is not None else lead + rest[:limit]
    return shown, len(rest) > limit


def _statuses_of(
    session: Session, rows: builtins.list[JobRow], now: datetime, running: dict[int, int]
) -> dict[int, JobStatus]:
    """The status of each of these jobs by id, from their summaries read once, and
    every job's newest running run (`job_summary.newest_running`) read already."""
    ids = [row.id for row in rows]
    summaries = job_summary.of_jobs(session, ids)
    latest = job_runs.latest_of_jobs(session, ids, summaries=summaries, running=running)
    links = chain_store.all_links(session)
    return {
        row.id: _status(job_view(row, now, links), latest.get(row.id), summaries.get(row.id), now)
        for row in rows
    }


@dataclass(frozen=True)
class _Needing:
    """A job that needs attention, as the look over the candidates finds it."""

    job_id: int
    name: str
    failing: bool
    stale_for: float | None

    def order(self) -> tuple[bool, float, str]:
        """Failing first, then the longest stale; by name within."""
        return (not self.failing, -(self.stale_for or 0), self.name)


def _first_needing(
    session: Session, now: datetime, limit: int | None, superseded: set[int] | None = None
) -> tuple[builtins.list[_Needing], int, int]:
    """The first `limit` (None: all) enabled jobs that are failing or stale at `now`,
    in `attention()`'s order, how many there are, and how many of them fail.
    `superseded`: `job_summary.superseded`, when the caller read it already.

    The summaries' indexes answer for the jobs that fail or are stale whenever
    asked: counted, and the first few read, in the database. Only the jobs whose last
    success is between the least and the most their schedule allows are judged here
    by the exact rule (`_unsure`)."""
    if superseded is None:
        superseded = job_summary.superseded(session)
    unsure = [n for n in _unsure(session, now, superseded) if n.failing or n.stale_for is not None]
    found, count, failing = job_summary.first_needing(session, now, superseded, limit)
    sure = [
        _Needing(
            n.job_id,
            n.name,
            n.failing,
            (now - n.stale_since).total_seconds() if n.stale_since else None,
        )
        for n in found
    ]
    first = sorted(sure + unsure, key=_Needing.order)[:limit]
    return first, count + len(unsure), failing + sum(1 for n in unsure if n.failing)


def _unsure(session: Session, now: datetime, superseded: set[int]) -> builtins.list[_Needing]:
    """The jobs that may be stale or not, judged by the exact rule."""
    return [
        _Needing(
            u.job_id,
            u.name,
            _failed_state(u.last_state) and u.job_id not in superseded,
            stale_for(u.schedule, u.success_at or u.created_at, now),
        )
        for u in job_summary.unsure(session, now)
    ]


def _is(needing: _Needing, failing: bool) -> bool:
    return needing.failing if failing else needing.stale_for is not None


def _status(
    view: JobView,
    last: RunRow | None,
    summary: job_summary.Summary | None,
    now: datetime,
) -> JobStatus:
    """The status of `view`'s job, from its newest run that started or ended (`last`)
    and its summary. A job is failing while that run is an ended one that failed."""
    success = summary.success_at if summary else None
    ended_failed = summary is not None and _failed_state(summary.last_state)
    running = last is not None and last.state == RunState.RUNNING.value
    failing = view.enabled and ended_failed and not running
    began = summary.failing_since if failing and summary else None
    since = success or datetime.fromisoformat(view.created_at)
    return JobStatus(
        job=view,
        last=run_view(last, retry_scheduled=False) if last is not None else None,
        last_success_at=success.isoformat() if success else None,
        failing=failing,
        stale_for=stale_for(_schedule(view.schedule), since, now) if view.enabled else None,
        failing_since=began.isoformat() if began else None,
    )


def _schedule(view: ScheduleView) -> Schedule:
    """The schedule a view shows: the same as its row's (the anchor's ISO 8601 keeps
    every digit), so the status needs no second read of the job's row."""
    anchor = datetime.fromisoformat(view.anchor) if view.anchor else None
    return Schedule(ScheduleKind(view.kind), view.cron, view.tz, view.every_s, anchor)


def _failed_state(state: str | None) -> bool:
    return state is not None and RunState(state) in RETRYABLE
