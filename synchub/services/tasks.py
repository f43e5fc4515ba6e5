"""File tasks of watched folders: list, retry one file, delete, and the figures of a
dashboard. See synchub.core.tasks for their life."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from synchub.core.clock import iso
from synchub.core.errors import InvalidInput, TaskBusy, TaskNotFound
from synchub.core.names import is_name
from synchub.core.runs import Trigger
from synchub.core.tasks import TaskState
from synchub.services.jobs.views import job_view
from synchub.store import chains as chain_store
from synchub.store import jobs as job_store
from synchub.store import runs as run_store
from synchub.store import tasks as store
from synchub.store.db import reading, transaction
from synchub.store.tables import FileTaskRow

if TYPE_CHECKING:
    from synchub.services.context import Services
    from synchub.services.jobs.job_views import JobView

#: A path and its job's name -> whether a task is wanted (e.g. a regex).
Match = Callable[[str, str], bool]


@dataclass(frozen=True)
class TaskView:
    """A file task as it is shown; instants in ISO 8601."""

    id: int
    job: str
    job_id: int
    path: str  #: relative to the job's source
    state: TaskState
    run_id: int | None  #: the run that carries it, carried it last, or will send it alone
    size: int | None  #: bytes, when known
    bytes: int  #: bytes sent so far
    percent: int | None
    speed_bps: float | None  #: while transferring
    eta_s: float | None  #: while transferring
    error: str | None  #: why it failed
    created_at: str  #: first seen
    seen_at: str  #: last change seen
    started_at: str | None
    finished_at: str | None
    duration_s: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job": self.job,
            "job_id": self.job_id,
            "path": self.path,
            "state": self.state.value,
            "run_id": self.run_id,
            "size": self.size,
            "bytes": self.bytes,
            "percent": self.percent,
            "speed_bps": self.speed_bps,
            "eta_s": self.eta_s,
            "error": self.error,
            "created_at": self.created_at,
            "seen_at": self.seen_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": self.duration_s,
        }


@dataclass(frozen=True)
class WatchedFolder:
    """A watched-folder job and what its runs did."""

    job: JobView  #: the job's view
    files_sent: int  #: by its runs, ever: deleting tasks does not lower it
    running: bool  #: a run of it runs now
    last_run_at: str | None  #: when its last run ended (ISO 8601)


@dataclass(frozen=True)
class FolderPage:
    """A page of the watched folders."""

    folders: list[WatchedFolder]  #: by name
    more: bool  #: another page follows
    total: int  #: watched folders in all


@dataclass(frozen=True)
class TaskDay:
    """One day of watched folders' work, in the zone asked for."""

    date: str  #: YYYY-MM-DD
    added: int  #: tasks seen
    done: int  #: files sent (from the runs' change reports)


class TaskService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def page(
        self,
        *,
        state: TaskState | None = None,
        job: str | None = None,
        match: Match | None = None,
        before_id: int | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[builtins.list[TaskView], int]:
        """Tasks newest first from `offset` (or before id `before_id`), and how many
        match in all."""
        with reading(self.svc.sessions) as session:
            job_id = None
            if job is not None:
                row = job_store.get(session, job)
                if row is None:
                    return [], 0
                job_id = row.id
            rows, total = store.page(
                session,
                state=state,
                job_id=job_id,
                match=match,
                before_id=before_id,
                offset=offset,
                limit=limit,
            )
            return [task_view(*row) for row in rows], total

    def show(self, task_id: int) -> TaskView:
        with reading(self.svc.sessions) as session:
            return task_view(*self._get(session, task_id))

    def retry(self, task_id: int, trigger: Trigger = Trigger.MANUAL) -> TaskView:
        """Send this one file again, in a run of its own (rclone copyto). TaskBusy
        while it is queued or being transferred: it goes already."""
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            # The job first, then the task: a removal of the job locks them in that
            # order, and is then seen through (the task goes with its job).
            job_id = session.scalar(select(FileTaskRow.job_id).where(FileTaskRow.id == task_id))
            job = None if job_id is None else job_store.get_by_id(session, job_id, share=True)
            task, _, _ = self._busy_check(session, task_id, "retried")
            assert job is not None  # the task is still there, so is its job
            run_id = run_store.create(session, job, trigger=trigger, now=now, only_path=task.path)
            assert run_id is not None
            store.queue_alone(session, task_id, run_id)
        self.svc.on_change()
        return self.show(task_id)

    def remove(self, task_id: int) -> None:
        """Forget a task. TaskBusy while it is queued or being transferred."""
        with transaction(self.svc.sessions) as session:
            self._busy_check(session, task_id, "deleted")
            store.remove(session, task_id)

    def counts(self) -> dict[TaskState, int]:
        """How many tasks are in each state (all states present)."""
        with reading(self.svc.sessions) as session:
            found = store.counts(session)
        return {state: found.get(state.value, 0) for state in TaskState}

    def folders(self) -> builtins.list[WatchedFolder]:
        """The watched-folder jobs, oldest first, each with what its runs did."""
        with reading(self.svc.sessions) as session:
            shown = self._folders(session, store.folders(session))
        return sorted(shown, key=lambda folder: folder.job.id)

    def folder_page(self, *, after: str | None = None, limit: int = 50) -> FolderPage:
        """At most `limit` watched folders by name, after the name `after` (the last
        of the previous page), and how many there are in all. InvalidInput for an
        `after` that is no job's name, or a limit outside 1 to 1000."""
        if after is not None and not is_name(after):
            raise InvalidInput("Bad after: pass back the last folder name of a page")
        if limit < 1 or limit > 1000:
            raise InvalidInput("Bad limit: use a number from 1 to 1000")
        with reading(self.svc.sessions) as session:
            # One row more than asked says whether another page follows.
            rows = store.folders(session, after_name=after, limit=limit + 1)
            shown = self._folders(session, rows[:limit])
            return FolderPage(shown, len(rows) > limit, store.folder_count(session))

    def _folders(
        self, session: Session, rows: Sequence[store.Folder]
    ) -> builtins.list[WatchedFolder]:
        """`rows`' folders, in the same few statements however many there are."""
        now = self.svc.clock.now()
        links = chain_store.all_links(session)
        running = run_store.running_job_ids(session)
        return [
            WatchedFolder(
                job=job_view(row, now, links),
                files_sent=row.files_sent,
                running=row.id in running,
                last_run_at=iso(ended),
            )
            for row, ended in rows
        ]

    def files_sent(self) -> int:
        """How many files the watched folders have sent, deleted tasks included."""
        with reading(self.svc.sessions) as session:
            return sum(store.sent_by_job(session).values())

    def recent(self, limit: int = 10) -> builtins.list[TaskView]:
        """The last tasks to end, newest first."""
        with reading(self.svc.sessions) as session:
            return [task_view(task, task.state, job) for task, job in store.recent(session, limit)]

    def daily(self, days: int, zone: tzinfo) -> builtins.list[TaskDay]:
        """The last `days` days in `zone`, oldest first: tasks seen (`added`) and
        files sent (`done`, from the runs' change reports, so that deleting tasks
        does not lower it) each day."""
        today = self.svc.clock.now().astimezone(zone).date()
        first = today - timedelta(days=days - 1)
        start = datetime.combine(first, datetime.min.time(), zone)
        added: dict[date, int] = {}
        done: dict[date, int] = {}
        with reading(self.svc.sessions) as session:
            for created in store.added_since(session, start):
                _count(added, created.astimezone(zone).date())
            for sent in store.sent_since(session, start):
                _count(done, sent.astimezone(zone).date())
        return [
            TaskDay(day.isoformat(), added.get(day, 0), done.get(day, 0))
            for day in (first + timedelta(days=i) for i in range(days))
        ]

    def _get(self, session: Session, task_id: int) -> tuple[FileTaskRow, str, str]:
        found = store.get(session, task_id)
        if found is None:
            raise TaskNotFound(f"No file task with id {task_id}")
        return found

    def _busy_check(
        self, session: Session, task_id: int, what: str
    ) -> tuple[FileTaskRow, str, str]:
        # Lock the row first: two retries at once must not both make a run.
        session.execute(select(FileTaskRow.id).where(FileTaskRow.id == task_id).with_for_update())
        task, status, _ = found = self._get(session, task_id)
        if TaskState(status).busy:
            raise TaskBusy(
                f"File task {task_id} ({task.path}) is {status}: it cannot be {what} now"
            )
        return found


def _count(counter: dict[date, int], day: date) -> None:
    counter[day] = counter.get(day, 0) + 1


def task_view(task: FileTaskRow, status: str, job_name: str) -> TaskView:
    duration = None
    if task.started_at is not None and task.finished_at is not None:
        duration = max(0.0, (task.finished_at - task.started_at).total_seconds())
    return TaskView(
        id=task.id,
        job=job_name,
        job_id=task.job_id,
        path=task.path,
        state=TaskState(status),
        run_id=task.run_id,
        size=task.size,
        bytes=task.bytes,
        percent=task.percent,
        speed_bps=task.speed_bps,
        eta_s=task.eta_s,
        error=task.error,
        created_at=task.created_at.isoformat(),
        seen_at=task.seen_at.isoformat(),
        started_at=iso(task.started_at),
        finished_at=iso(task.finished_at),
        duration_s=duration,
    )
