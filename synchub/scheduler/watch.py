"""Watched folders: a filesystem watcher feeding the scheduler's runs with trigger `watch`.

The leading scheduler drives a FolderWatch on each full pass:

1. `refresh`: read the enabled watched jobs, find their local folders (an absolute
   path, or a path on a remote of type `local`; other remotes are only rescanned by
   the job's interval), and watch those that exist. The watcher thread is restarted
   when that set changes: a folder created, removed or come back, a job added,
   edited or deleted. A folder that comes back marks its job dirty. A job this
   watch has not seen before (added, enabled, made watched; every job when the
   scheduler starts or takes the lead) is marked settled at once: the files already
   in its folder, which no watcher saw arrive, get a run now, not at the rescan.
2. The watcher thread marks a job dirty at each change under its folder
   (`synchub.core.watch.Dirty`, with the clock's time). A name that is not UTF-8
   makes watchfiles give up the batch it was collecting (for every folder): the
   thread then marks every watched job dirty, since their runs will find what the
   batch held (rclone copies such names as they are), and watches on at once.
3. `fire`: each job quiet for the settle time gets one run, unless a run of it is
   pending or queued (that run will see the files) or running (it is looked at again
   once the run has ended).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from synchub.core.clock import Clock
from synchub.core.errors import InvalidInput
from synchub.core.runs import WAITING, RunState, Trigger
from synchub.core.watch import Dirty
from synchub.engines.rclone.flags import flag_name
from synchub.engines.rclone.params import TEMPORARY, parse_location
from synchub.store import job_runs
from synchub.store import jobs as job_store
from synchub.store import remotes as remote_store
from synchub.store import runs as run_store
from synchub.store import tasks as task_store
from synchub.store.db import reading, transaction

log = logging.getLogger(__name__)

#: After the watcher failed to start, wait this long before trying again.
RETRY_AFTER = timedelta(seconds=30)


def local_folder(source: Any, remote_type: Callable[[str], str | None]) -> str | None:
    """The local folder a job's source names, or None when it is not local.

    An absolute path is local; so is REMOTE:PATH when the remote's type is `local`
    (a relative path on it is relative to this process's directory, as for rclone).
    """
    if not isinstance(source, str):
        return None
    try:
        location = parse_location(source)
    except InvalidInput:
        return None
    if location.remote is None:
        return location.path
    if remote_type(location.remote) != "local":
        return None
    return os.path.abspath(location.path or ".")


def folder_problem(folder: str) -> str | None:
    """Why `folder` cannot be watched now, or None when it can."""
    if not os.path.exists(folder):
        return f"source folder {folder} does not exist"
    if not os.path.isdir(folder):
        return f"source {folder} is not a folder"
    if not os.access(folder, os.R_OK | os.X_OK):
        return f"source folder {folder} cannot be read"
    return None


def max_depth(params: Mapping[str, Any]) -> int | None:
    """The value of rclone's --max-depth among a job's options, or None."""
    for option in params.get("options") or []:
        if isinstance(option, str) and flag_name(option) == "--max-depth":
            _, _, value = option.partition("=")
            try:
                return int(value)
            except ValueError:
                return None
    return None


@dataclass(frozen=True)
class WatchedJob:
    job_id: int
    folder: str | None  #: the local folder watched; None: rescanned only
    max_depth: int | None  #: changes deeper than this are not the job's (rclone's meaning)

    def owns(self, path: str) -> bool:
        """True when a change at `path` is one this job's runs would copy."""
        if self.folder is None:
            return False
        prefix = self.folder.rstrip("/") + "/"
        if not path.startswith(prefix):
            return False  # outside, or the folder itself (removed: refresh notices)
        depth = path[len(prefix) :].count("/") + 1
        return self.max_depth is None or self.max_depth < 0 or depth <= self.max_depth


def task_path(folder: str, path: str) -> str | None:
    """`path` relative to `folder`, as rclone names it; None when it cannot be stored."""
    relative = os.path.relpath(path, folder)
    try:
        relative.encode()
    except UnicodeEncodeError:
        return None
    return None if relative == ".." or relative.startswith("../") else relative


def watched_jobs(session: Session) -> list[WatchedJob]:
    """The enabled watched jobs with their local folders."""
    types = {r.name: r.type for r in remote_store.all_remotes(session)}
    return [
        WatchedJob(row.id, local_folder(row.params.get("source"), types.get), max_depth(row.params))
        for row in job_store.watched(session)
        if row.kind == "rclone"
    ]


def outermost(folders: set[str]) -> frozenset[str]:
    """The folders not inside another one: a recursive watch of those sees all."""
    return frozenset(
        f for f in folders if not any(o != f and f.startswith(o.rstrip("/") + "/") for o in folders)
    )


def undecodable_path(exc: Exception) -> str | None:
    """The path (escaped as Rust prints it) in watchfiles' error about a name that is
    not UTF-8, or None for any other error."""
    text = str(exc)
    head, tail = 'Unable to decode path "', '" to string'
    if type(exc).__name__ != "WatchfilesRustInternalError" or not text.startswith(head):
        return None
    return text[len(head) :].removesuffix(tail)


class FolderWatcher:
    """Watches a set of folders, recursively, in a thread of its own (watchfiles) and
    calls `on_change(paths)` from that thread with each batch of changed paths, or
    `on_lost(path)` when a batch was lost to a name that is not UTF-8."""

    def __init__(
        self,
        on_change: Callable[[list[str]], None],
        on_lost: Callable[[str], None] = lambda _path: None,
    ) -> None:
        self.on_change = on_change
        self.on_lost = on_lost
        self.roots: frozenset[str] = frozenset()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._failed_at: datetime | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def watch(self, roots: frozenset[str], now: datetime) -> None:
        """Watch exactly `roots`, folders that exist. The thread is restarted when the
        set changed or it ended (watchfiles ends when a watched folder is removed);
        after a failure to start, not before RETRY_AFTER."""
        if roots == self.roots and (self.alive or not roots):
            return
        if roots == self.roots and self._failed_at and now - self._failed_at < RETRY_AFTER:
            return
        self.stop()
        self.roots, self._failed_at = roots, None
        if not roots:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(roots, self._stop, now), name="synchub-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; returns once the thread has ended."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._thread = None
        self.roots = frozenset()

    def _run(self, roots: frozenset[str], stop: threading.Event, started: datetime) -> None:
        try:
            while not self._watch(roots, stop):
                pass
        except Exception as exc:
            self._failed_at = started
            log.warning(
                "watched folders: watching %s failed: %s",
                ", ".join(sorted(roots)),
                exc,
                extra={"action": "watch_error"},
            )

    def _watch(self, roots: frozenset[str], stop: threading.Event) -> bool:
        """Watch until stopped or a root is gone (True), or until a batch is lost to a
        name that is not UTF-8 (False: watch again). Raises watchfiles' other errors."""
        # Imported here, in the watching thread: only a node with watched folders
        # needs it, and the service modules that import this one are in every worker.
        import watchfiles

        try:
            for changes in watchfiles.watch(
                *sorted(roots),
                watch_filter=None,  # a backup wants .git and *.swp too
                stop_event=stop,
                raise_interrupt=False,
                ignore_permission_denied=True,  # an unreadable subfolder is not fatal
            ):
                try:
                    self.on_change([path for _, path in changes])
                except Exception:
                    log.exception("watched folders: a change was not recorded")
        except Exception as exc:
            path = undecodable_path(exc)
            if path is None:
                raise
            try:
                self.on_lost(path)
            except Exception:
                log.exception("watched folders: a lost batch was not recorded")
            return stop.is_set()
        return True


class FolderWatch:
    """Watched folders for the scheduler: refresh the folders, fire settled jobs."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        settle_s: float,
        *,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.dirty = Dirty(settle_s)
        self.wake = wake
        self.watcher = FolderWatcher(self.changed, self.lost)
        self._jobs: tuple[WatchedJob, ...] = ()
        self._missing: set[int] = set()
        self._known: set[int] = set()  #: the jobs of the last refresh

    def refresh(self) -> None:
        """Watch the folders of the watched jobs that exist now; see the module doc."""
        now = self.clock.now()
        with reading(self.sessions) as session:
            jobs = watched_jobs(session)
        self.dirty.keep_only({j.job_id for j in jobs})
        present: list[WatchedJob] = []
        missing: set[int] = set()
        for job in jobs:
            new = job.job_id not in self._known
            if new and (job.folder is None or folder_problem(job.folder) is None):
                # Nobody saw its files arrive: they settled long ago.
                self.mark(job.job_id, now - self.dirty.settle)
            if job.folder is None:
                continue
            if folder_problem(job.folder) is not None:
                missing.add(job.job_id)
                continue
            present.append(job)
            if job.job_id in self._missing:
                # It came back: what is in it now was never seen by the watcher.
                self.mark(job.job_id, now)
        self._missing = missing
        self._known = {j.job_id for j in jobs}
        self._jobs = tuple(present)  # one reference swap: the watcher thread reads it
        self.watcher.watch(outermost({j.folder for j in present if j.folder}), now)

    def changed(self, paths: list[str]) -> None:
        """Mark the jobs owning any of `paths` dirty and record their files as pending
        tasks (called by the watcher thread)."""
        now = self.clock.now()
        jobs = self._jobs
        for job in jobs:
            mine = [path for path in paths if job.owns(path)]
            if mine:
                self.mark(job.job_id, now)
                self._record(job, mine, now)

    def lost(self, path: str) -> None:
        """A batch of changes was lost to `path`, a name that is not UTF-8 (called by
        the watcher thread): mark every watched job dirty, as any of them may have
        changed in that batch. Their runs copy the file and report it (its name with
        U+FFFD where a byte was not UTF-8)."""
        now = self.clock.now()
        jobs = self._jobs
        log.warning(
            "watched folders: %s is not a UTF-8 name; the changes seen with it are "
            "left to the next run of %d watched job(s)",
            path,
            len(jobs),
            extra={"action": "watch_undecodable"},
        )
        for job in jobs:
            self.mark(job.job_id, now)

    def _record(self, job: WatchedJob, paths: list[str], now: datetime) -> None:
        """Files now present are pending tasks; files gone before a run took them
        are none. Folders, symlinks and names that are not UTF-8 are left to the run
        (it reports what it sends); rclone's temporary NAME.<hex>.partial files (of
        another rclone writing into the folder) are never tasks: NAME is, once there."""
        assert job.folder is not None
        present, absent = [], []
        for path in paths:
            relative = task_path(job.folder, path)
            if relative is None or TEMPORARY.search(relative):
                continue
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                absent.append(relative)
                continue
            except OSError:
                continue
            if stat.S_ISREG(mode):
                present.append(relative)
        if present or absent:
            with transaction(self.sessions) as session:
                task_store.seen(session, job.job_id, present, now)
                task_store.gone(session, job.job_id, absent)

    def mark(self, job_id: int, at: datetime) -> None:
        fresh = job_id not in self.dirty
        self.dirty.mark(job_id, at)
        if fresh:
            self.wake()  # the scheduler's sleep should end when this one settles

    def fire(self) -> list[int]:
        """Create one pending run, trigger `watch`, per job whose changes settled;
        return their ids. A job with a pending or queued run gets none (that run will
        see the changes); one with a running run stays dirty until it ends."""
        now = self.clock.now()
        settled = self.dirty.settled(now)
        if not settled:
            return []
        created: list[int] = []
        done = []
        with transaction(self.sessions) as session:
            ids = {s.job_id for s in settled}
            jobs = {j.id: j for j in job_store.by_ids(session, ids, share=True)}
            unfinished = job_runs.unfinished_states(session, ids)
            for item in settled:
                job = jobs.get(item.job_id)
                states = unfinished.get(item.job_id, set())
                gone = job is None or not job.watch or not job.enabled
                # A pending or queued run has not looked at the folder yet: it will
                # see these changes.
                waiting = bool(states & {s.value for s in WAITING})
                if gone or waiting:
                    done.append(item)
                elif RunState.RUNNING.value in states:
                    self.dirty.defer(item.job_id)
                else:
                    assert job is not None
                    run_id = run_store.create(session, job, trigger=Trigger.WATCH, now=now)
                    assert run_id is not None
                    created.append(run_id)
                    done.append(item)
                    log.info(
                        "job %s: watched folder changed; run %s",
                        job.name,
                        run_id,
                        extra={"action": "watch_fire"},
                    )
        # Forgotten only once the runs are committed; a change since stays dirty.
        for item in done:
            self.dirty.clear(item)
        return created

    def next_due(self) -> datetime | None:
        """When the next dirty job settles, or None."""
        return self.dirty.due_at()

    def stop(self) -> None:
        self.watcher.stop()
        self._missing = set()
        self._known = set()  # changes while no one watches: each job is new again
