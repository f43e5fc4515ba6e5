"""Restoring what a run kept: the rules around engines.rclone.restore."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synchub.core.errors import InvalidPath, JobRunning, NothingToRestore, RunNotFound
from synchub.engines.rclone.backends import rclone_binary
from synchub.engines.rclone.params import parse_location
from synchub.engines.rclone.restore import Restorer, kept_folder_of
from synchub.store import logs as log_store
from synchub.store import runs as store
from synchub.store.db import reading, transaction

if TYPE_CHECKING:
    from synchub.services.context import Services


@dataclass(frozen=True)
class RunRestored:
    """What a restore copied back, and from where to where."""

    run: int
    kept_in: str  #: remote:path of the run's folder of kept versions
    destination: str  #: remote:path of the destination root
    restored: list[str]  #: paths copied back, relative to the destination root
    unchanged: list[str]  #: paths already at the destination as kept
    kept_aside: str  #: remote:path where the versions the restore overwrote were kept
    errors: list[str]  #: rclone's errors, if some files could not be copied back

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "kept_in": self.kept_in,
            "destination": self.destination,
            "restored": self.restored,
            "unchanged": self.unchanged,
            "kept_aside": self.kept_aside,
            "errors": self.errors,
        }


def restore_run(svc: Services, run_id: int, path: str | None = None) -> RunRestored:
    """Copy back to the destination what run `run_id` kept (the files it deleted or
    overwrote, for a job keeping versions), or only those at or under `path`
    (relative to the destination root). What the restore overwrites is kept in turn.

    1. RunNotFound for an unknown run; NothingToRestore when it kept nothing;
       InvalidPath for a bad `path`.
    2. JobRunning while a run of its job runs: that run may be moving files into,
       or pruning, the same trash.
    3. NothingToRestore when its folder is gone (pruned); InvalidPath when `path`
       matches nothing in it. Nothing has changed then.
    4. The copy; audited as `run.restore`, with what it restored.
    """
    wanted = _relative(path) if path is not None else None
    with reading(svc.sessions) as session:
        run = store.get(session, run_id)
        if run is None:
            raise RunNotFound(f"No run with id {run_id}")
        first = log_store.first_kept(session, run_id)
        busy = run.job_id is not None and run.job_id in store.running_job_ids(session)
    if first is None:
        raise NothingToRestore(
            f"Run {run_id} kept nothing: its job did not keep versions (job edit "
            "--keep-deleted), or it deleted and overwrote nothing"
        )
    if busy:
        raise JobRunning(f"A run of job {run.job_name!r} is running: restore once it has ended")
    kept = kept_folder_of(first[1], first[0])
    remote = parse_location(kept.root).remote
    remotes = svc.remotes.configs(frozenset({remote})) if remote is not None else {}
    settings = svc.settings
    restorer = Restorer(kept, remotes, binary=_binary(svc), grace_s=settings.kill_grace,
                        allow_programs=settings.allow_command_jobs)  # fmt: skip
    files = restorer.files()
    if wanted is not None:
        files = [f for f in files if f == wanted or f.startswith(wanted + "/")]
        if not files:
            raise InvalidPath(
                f"Run {run_id} kept nothing at {path!r}: see synchub runs show {run_id} --files"
            )
    now = svc.clock.now()
    done = restorer.restore(files, now=now, restore_id=run_id)
    with transaction(svc.sessions) as session:
        after = {"path": wanted, "restored": len(done.restored), "errors": len(done.errors)}
        svc.audit_event(session, "run.restore", str(run_id), at=now, after=after)
    return RunRestored(
        run=run_id,
        kept_in=kept.folder,
        destination=kept.root,
        restored=done.restored,
        unchanged=done.unchanged,
        kept_aside=done.aside,
        errors=done.errors,
    )


def _relative(path: str) -> str:
    """`path` as a path relative to the destination root; InvalidPath for a path that
    leaves it, or names nothing."""
    cleaned = path.strip().strip("/")
    if not cleaned or any(c in cleaned for c in "\0\r\n") or ".." in cleaned.split("/"):
        raise InvalidPath(f"Bad path {path!r}: give a file or folder relative to the destination")
    return posixpath.normpath(cleaned)


def _binary(svc: Services) -> str:
    return svc.settings.rclone or rclone_binary()
