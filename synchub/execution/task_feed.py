"""Feeds a watched folder's file tasks from what its run reports: the files rclone
is sending (live figures) and its change report (done or failed). rclone's
temporary NAME.<hex>.partial files (another rclone's, copied from the folder) are
never tasks: NAME is one once it is there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from synchub.core.runs import FileAction, Progress
from synchub.engines.rclone.params import TEMPORARY
from synchub.store import tasks as task_store
from synchub.store.logs import FileLine

SENT = frozenset({FileAction.COPIED.value, FileAction.REPLACED.value, FileAction.MOVED.value})


@dataclass(frozen=True)
class TaskFeed:
    job_id: int
    run_id: int
    started: datetime  #: when the run began: changes seen later are not its own
    only_path: str | None = None  #: a one-file run: whatever it reports is this file

    def flush(self, session: Session, files: Sequence[FileLine], progress: Progress | None) -> None:
        """Record in the tasks what the run reported since the last flush."""
        if progress is not None and progress.transferring:
            items = [self._in_flight(item) for item in progress.transferring]
            task_store.transferring(
                session, self.job_id, self.run_id, self.started, [i for i in items if i]
            )
        report = [
            (self._path(row[0]), row[1] in SENT, row[2], row[3], row[4])
            for row in files
            if (row[1] in SENT or row[1] == FileAction.FAILED.value)
            and not TEMPORARY.search(row[0])
        ]
        if report:
            task_store.reported(session, self.job_id, self.run_id, self.started, report)

    def _path(self, path: str) -> str:
        return self.only_path if self.only_path is not None else path

    def _in_flight(self, item: Mapping[str, object]) -> task_store.InFlight | None:
        name = item.get("name")
        if not isinstance(name, str) or not name or TEMPORARY.search(name):
            return None
        size, done, percent = item.get("size"), item.get("bytes"), item.get("percentage")
        speed, eta = item.get("speed"), item.get("eta")
        return task_store.InFlight(
            path=self._path(name),
            size=size if isinstance(size, int) and size >= 0 else None,
            bytes=done if isinstance(done, int) else 0,
            percent=percent if isinstance(percent, int) else None,
            speed_bps=float(speed) if isinstance(speed, int | float) else None,
            eta_s=float(eta) if isinstance(eta, int | float) else None,
        )
