"""File tasks of watched folders (see synchub.core.tasks): writes from the watcher
and the runner, reads for the services."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from synchub.core.runs import WAITING, FileAction, RunState
from synchub.core.tasks import TaskState
from synchub.store.tables import FileTaskRow, JobRow, RunFileRow, RunRow

PENDING, TRANSFERRING = TaskState.PENDING.value, TaskState.TRANSFERRING.value
DONE, FAILED = TaskState.DONE.value, TaskState.FAILED.value


def path_key(path: str) -> str:
    """The task's key within its job: paths can be longer than an index entry."""
    return hashlib.sha256(path.encode()).hexdigest()


def _waiting_run() -> ColumnElement[bool]:
    """A run that will carry the task has not sent it yet: any whole run of its job
    that waits, or that runs and began after the task was seen (see `settle`), or
    the one-file run made for it (a retry), waiting or running. Until the run
    reports the file in flight, the task is stored pending."""
    whole = and_(RunRow.job_id == FileTaskRow.job_id, RunRow.only_path.is_(None))
    waiting = RunRow.state.in_([s.value for s in WAITING])
    running = RunRow.state == RunState.RUNNING.value
    return exists().where(
        or_(
            and_(waiting, or_(whole, RunRow.id == FileTaskRow.run_id)),
            and_(running, whole, RunRow.started_at >= FileTaskRow.seen_at),
            and_(running, RunRow.id == FileTaskRow.run_id, RunRow.only_path.is_not(None)),
        )
    )


@functools.cache  # made once: building the expression cost a page more than running it
def status() -> ColumnElement[str]:
    """The task's state as people see it: stored, but `queued` for a pending task
    that a run will carry (see `_waiting_run`)."""
    return case(
        (and_(FileTaskRow.state == PENDING, _waiting_run()), TaskState.QUEUED.value),
        else_=FileTaskRow.state,
    )


def _with_status(state: TaskState) -> ColumnElement[bool]:
    if state is TaskState.QUEUED:
        return and_(FileTaskRow.state == PENDING, _waiting_run())
    if state is TaskState.PENDING:
        return and_(FileTaskRow.state == PENDING, ~_waiting_run())
    return FileTaskRow.state == state.value


def _upsert(session: Session, rows: Sequence[Mapping[str, Any]], set_: Mapping[str, Any]) -> None:
    """Insert `rows`; where (job, path) has a task, update it with `set_` instead."""
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(FileTaskRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=[FileTaskRow.job_id, FileTaskRow.path_key],
        set_={k: (v(stmt.excluded) if callable(v) else v) for k, v in set_.items()},
    )
    session.execute(stmt, list(rows))


def _new(job_id: int, path: str, state: str, at: datetime, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "job_id": job_id,
        "path": path,
        "path_key": path_key(path),
        "state": state,
        "run_id": None,
        "size": None,
        "bytes": 0,
        "percent": None,
        "speed_bps": None,
        "eta_s": None,
        "error": None,
        "created_at": at,
        "seen_at": at,
        "started_at": None,
        "finished_at": None,
    }
    row.update(values)
    return row


def seen(session: Session, job_id: int, paths: Iterable[str], now: datetime) -> None:
    """Changes at `paths`: each is pending (again). One being transferred keeps
    going; its newer `seen_at` makes its run leave it pending for the next run."""
    rows = [_new(job_id, p, PENDING, now) for p in dict.fromkeys(paths)]
    keep = FileTaskRow.state == TRANSFERRING
    _upsert(
        session,
        rows,
        {
            "seen_at": lambda new: new.seen_at,
            "state": case((keep, FileTaskRow.state), else_=PENDING),
            "error": case((keep, FileTaskRow.error), else_=None),
            "finished_at": case((keep, FileTaskRow.finished_at), else_=None),
        },
    )


def gone(session: Session, job_id: int, paths: Iterable[str]) -> None:
    """Files removed before any run took them: nothing to transfer any more."""
    keys = [path_key(p) for p in paths]
    if keys:
        session.execute(
            delete(FileTaskRow).where(
                FileTaskRow.job_id == job_id,
                FileTaskRow.path_key.in_(keys),
                FileTaskRow.state == PENDING,
            )
        )


@dataclass(frozen=True)
class InFlight:
    """A file rclone's stats list as transferring."""

    path: str
    size: int | None
    bytes: int
    percent: int | None
    speed_bps: float | None
    eta_s: float | None


def transferring(
    session: Session, job_id: int, run_id: int, started: datetime, items: Sequence[InFlight]
) -> None:
    """Live figures of the files run `run_id` is sending (a task for each, made if
    the watcher had not seen it: a remote source, or a rescan)."""
    rows = [
        _new(
            job_id,
            i.path,
            TRANSFERRING,
            started,
            run_id=run_id,
            size=i.size,
            bytes=i.bytes,
            percent=i.percent,
            speed_bps=i.speed_bps,
            eta_s=i.eta_s,
            started_at=started,
        )
        for i in items
    ]
    same_run = and_(FileTaskRow.state == TRANSFERRING, FileTaskRow.run_id == run_id)
    _upsert(
        session,
        rows,
        {
            "state": TRANSFERRING,
            "run_id": run_id,
            "size": lambda new: new.size,
            "bytes": lambda new: new.bytes,
            "percent": lambda new: new.percent,
            "speed_bps": lambda new: new.speed_bps,
            "eta_s": lambda new: new.eta_s,
            "error": None,
            "finished_at": None,
            "started_at": case((same_run, FileTaskRow.started_at), else_=started),
        },
    )


def reported(
    session: Session,
    job_id: int,
    run_id: int,
    started: datetime,
    files: Sequence[tuple[str, bool, int | None, str | None, datetime]],
) -> None:
    """The run's change report: (path, sent, size, error, at) per file — sent files
    are done, unless changed again since the run began, and counted in the job's
    `files_sent`; the others failed."""
    sent = [
        _new(job_id, p, DONE, started, run_id=run_id, size=s, bytes=s or 0, percent=100,
             started_at=started, finished_at=at)
        for p, ok, s, _, at in files if ok
    ]  # fmt: skip
    newer = FileTaskRow.seen_at > started
    _upsert(
        session,
        sent,
        {
            "state": case((newer, PENDING), else_=DONE),
            "run_id": run_id,
            "size": lambda new: new.size,
            "bytes": lambda new: new.bytes,
            "percent": 100,
            "speed_bps": None,
            "eta_s": None,
            "error": None,
            "started_at": started,  # this attempt's, not an earlier one's
            "finished_at": lambda new: new.finished_at,
        },
    )
    if sent:
        session.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(files_sent=JobRow.files_sent + len(sent))
        )
    failed = [
        _new(job_id, p, FAILED, started, run_id=run_id, size=s, error=e, started_at=started,
             finished_at=at)
        for p, ok, s, e, at in files if not ok
    ]  # fmt: skip
    _upsert(
        session,
        failed,
        {
            "state": FAILED,
            "run_id": run_id,
            "error": lambda new: new.error,
            "speed_bps": None,
            "eta_s": None,
            "started_at": started,
            "finished_at": lambda new: new.finished_at,
        },
    )


def settle(session: Session, run_id: int, state: RunState, now: datetime) -> None:
    """A run of a watched job ended: the tasks it was to carry follow its end.

    Succeeded: every task seen before it began is at the destination (a copy
    looks at every file). Cancelled: what it was sending waits for the next run.
    Otherwise what it did not report is failed, with the run's error.
    """
    run = session.get(RunRow, run_id)
    if run is None or run.job_id is None or run.started_at is None:
        return
    mine = FileTaskRow.job_id == run.job_id
    if run.only_path is not None:
        mine = and_(mine, FileTaskRow.path_key == path_key(run.only_path))
    before = FileTaskRow.seen_at <= run.started_at
    sending = and_(FileTaskRow.run_id == run_id, FileTaskRow.state == TRANSFERRING)
    if state is RunState.SUCCEEDED:
        done = _done(run_id, run.started_at, now)
        _set(session, and_(mine, before, FileTaskRow.state != DONE), done)
        _set(session, sending, _pending())
    elif state is RunState.CANCELLED:
        _set(session, sending, _pending())
    else:
        error = f"run {run_id} {state.value}: {run.error or 'no message'}"
        unsent = FileTaskRow.state.in_((PENDING, TRANSFERRING))
        values = {"state": FAILED, "run_id": run_id, "error": error, "finished_at": now}
        values["started_at"] = run.started_at
        _set(session, and_(mine, before, unsent), values | _still())
        _set(session, sending, _pending())


def _set(session: Session, where: ColumnElement[bool], values: Mapping[str, Any]) -> None:
    session.execute(update(FileTaskRow).where(where).values(**values))


def _still() -> dict[str, Any]:
    return {"speed_bps": None, "eta_s": None}


def _pending() -> dict[str, Any]:
    return {"state": PENDING, "bytes": 0, "percent": None} | _still()


def _done(run_id: int, started: datetime, now: datetime) -> dict[str, Any]:
    return {
        "state": DONE,
        "run_id": run_id,
        "error": None,
        "percent": 100,
        "bytes": func.coalesce(FileTaskRow.size, FileTaskRow.bytes),
        "started_at": started,  # this attempt's, not an earlier one's
        "finished_at": now,
    } | _still()


# Reads


def get(session: Session, task_id: int) -> tuple[FileTaskRow, str, str] | None:
    """The task, its status and its job's name."""
    row = session.execute(
        select(FileTaskRow, status(), JobRow.name)
        .join(JobRow, JobRow.id == FileTaskRow.job_id)
        .where(FileTaskRow.id == task_id)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def page(
    session: Session,
    *,
    state: TaskState | None = None,
    job_id: int | None = None,
    match: Callable[[str, str], bool] | None = None,
    before_id: int | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[tuple[FileTaskRow, str, str]], int]:
    """A page of tasks, newest first, with their status and job name, and how many
    match in all (before `before_id` aside). `match(path, job_name)` filters what SQL
    cannot (a regex)."""
    wanted = [] if state is None else [_with_status(state)]
    if job_id is not None:
        wanted.append(FileTaskRow.job_id == job_id)
    shown = select(FileTaskRow, status(), JobRow.name).join(JobRow, JobRow.id == FileTaskRow.job_id)
    if match is not None:
        ids, total = _matched(session, wanted, match, before_id, offset, limit)
        if not ids:
            return [], total
        shown = shown.where(FileTaskRow.id.in_(ids))
    else:
        # Every task has its job (a foreign key): counting them needs no join.
        counted = select(func.count()).select_from(FileTaskRow).where(*wanted)
        total = int(session.scalar(counted) or 0)
        if before_id is not None:
            wanted.append(FileTaskRow.id < before_id)
        shown = shown.where(*wanted).offset(offset).limit(limit)
    rows = session.execute(shown.order_by(FileTaskRow.id.desc()))
    return [(r[0], r[1], r[2]) for r in rows], total


def _matched(
    session: Session,
    wanted: list[ColumnElement[bool]],
    match: Callable[[str, str], bool],
    before_id: int | None,
    offset: int,
    limit: int,
) -> tuple[list[int], int]:
    """The ids of a page of the tasks that `match` wants too, and how many it wants."""
    query = (
        select(FileTaskRow.id, FileTaskRow.path, JobRow.name)
        .join(JobRow, JobRow.id == FileTaskRow.job_id)
        .where(*wanted)
        .order_by(FileTaskRow.id.desc())
    )
    total, skipped = 0, 0
    ids: list[int] = []
    for task_id, path, job_name in session.execute(query.execution_options(yield_per=2000)):
        if not match(path, job_name):
            continue
        total += 1
        if before_id is not None and task_id >= before_id:
            continue
        if skipped < offset:
            skipped += 1
        elif len(ids) < limit:
            ids.append(task_id)
    return ids, total


def counts(session: Session, job_id: int | None = None) -> dict[str, int]:
    """How many tasks are in each status."""
    label = status().label("status")
    query = select(label, func.count()).group_by(label)
    if job_id is not None:
        query = query.where(FileTaskRow.job_id == job_id)
    return {s: int(n) for s, n in session.execute(query)}


#: A watched-folder job and when its last run ended (None before any ended).
Folder = tuple[JobRow, datetime | None]


def folders(
    session: Session, *, after_name: str | None = None, limit: int | None = None
) -> list[Folder]:
    """The watched-folder jobs, enabled or not, by name, each with when its last run
    ended: at most `limit`, after the name `after_name` (the last of the previous
    page). The partial index on watched jobs' names serves the order and the cursor,
    so a deep page costs what the first does; the index on the runs' job and end
    answers each job's last end with one probe, however long its history."""
    ended = select(func.max(RunRow.finished_at)).where(RunRow.job_id == JobRow.id).scalar_subquery()
    query = select(JobRow, ended).where(JobRow.watch.is_(True))
    if after_name is not None:
        query = query.where(JobRow.name > after_name)
    query = query.order_by(JobRow.name)
    if limit is not None:
        query = query.limit(limit)
    return [(row, at) for row, at in session.execute(query)]


def folder_count(session: Session) -> int:
    """How many watched-folder jobs there are, enabled or not."""
    counted = select(func.count()).select_from(JobRow).where(JobRow.watch.is_(True))
    return int(session.scalar(counted) or 0)


def sent_by_job(session: Session) -> dict[int, int]:
    """How many files each watched job has sent, deleted tasks included."""
    rows = session.execute(select(JobRow.id, JobRow.files_sent).where(JobRow.watch.is_(True)))
    return {job_id: int(n) for job_id, n in rows}


def recent(session: Session, limit: int) -> list[tuple[FileTaskRow, str]]:
    """The last tasks to end, newest first, with their job's name."""
    rows = session.execute(
        select(FileTaskRow, JobRow.name)
        .join(JobRow, JobRow.id == FileTaskRow.job_id)
        .where(FileTaskRow.finished_at.is_not(None))
        .order_by(FileTaskRow.finished_at.desc(), FileTaskRow.id.desc())
        .limit(limit)
    )
    return [(r[0], r[1]) for r in rows]


def added_since(session: Session, start: datetime) -> list[datetime]:
    """When each task seen since `start` was first seen."""
    rows = session.execute(select(FileTaskRow.created_at).where(FileTaskRow.created_at >= start))
    return [at for (at,) in rows]


def sent_since(session: Session, start: datetime) -> list[datetime]:
    """When each file the watched jobs' runs sent since `start` was sent, from their
    change reports: deleting tasks does not lower it."""
    sent = (FileAction.COPIED.value, FileAction.REPLACED.value, FileAction.MOVED.value)
    rows = session.execute(
        select(RunFileRow.at)
        .join(RunRow, RunRow.id == RunFileRow.run_id)
        .join(JobRow, JobRow.id == RunRow.job_id)
        .where(JobRow.watch.is_(True), RunFileRow.action.in_(sent), RunFileRow.at >= start)
    )
    return [at for (at,) in rows]


def remove(session: Session, task_id: int) -> bool:
    return bool(
        session.execute(delete(FileTaskRow).where(FileTaskRow.id == task_id)).rowcount  # type: ignore[attr-defined]
    )


def queue_alone(session: Session, task_id: int, run_id: int) -> None:
    """The task waits for run `run_id`, made to send it alone (a retry)."""
    session.execute(
        update(FileTaskRow)
        .where(FileTaskRow.id == task_id)
        .values(run_id=run_id, error=None, started_at=None, finished_at=None, **_pending())
    )
