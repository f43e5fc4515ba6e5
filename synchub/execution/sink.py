"""Buffers what an engine reports until the runner's next flush to the database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from synchub.core.clock import Clock
from synchub.core.logcap import LogCap
from synchub.core.redact import redact
from synchub.core.runs import FileChange, Progress
from synchub.execution.task_feed import TaskFeed
from synchub.store import logs as log_store


@dataclass
class BufferedSink:
    """A RunSink that keeps lines in memory; `flush` writes them in the caller's session."""

    run_id: int
    clock: Clock
    cap: LogCap
    file_cap: int
    tasks: TaskFeed | None = None  #: a watched folder's run: its file tasks follow it
    #: values scrubbed from every line and file error (core.redact.secret_list)
    secrets: list[str] = field(default_factory=list)
    #: lines and files worth a write of their own before the runner's next tick
    batch_rows: int = 500
    #: called from the engine's thread when the buffer first holds `batch_rows`: a run
    #: of many small files has its rows written while it works, not all after its end
    on_full: Callable[[], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _lines: list[log_store.LogLine] = field(default_factory=list)
    _drop: list[int] = field(default_factory=list)
    _files: list[log_store.FileLine] = field(default_factory=list)
    _files_seen: int = 0
    _progress: Progress | None = None
    #: what the last `flush` took, until its transaction is known to have committed
    _taken: _Batch | None = None
    _again: bool = False  #: lines were put back: some may be stored already
    _full: bool = False  #: `on_full` was called since the last flush
    last_progress: Progress | None = None

    def log(self, level: str, message: str, fields: Mapping[str, Any] | None = None) -> None:
        del fields  # the message carries what people read; structured fields stay in rclone
        message = redact(message, self.secrets)
        at = self.clock.now()
        with self._lock:
            seq, dropped = self.cap.admit(len(message.encode()) + 1)
            self._lines.append((seq, at, level, message))
            if dropped:
                gone = set(dropped)
                kept = [line for line in self._lines if line[0] not in gone]
                self._drop.extend(gone - {line[0] for line in self._lines})
                self._lines = kept
            full = self._filled()
        if full and self.on_full is not None:
            self.on_full()

    def progress(self, snapshot: Progress) -> None:
        with self._lock:
            self._progress = snapshot
            self.last_progress = snapshot

    def file(self, change: FileChange) -> None:
        at: datetime = self.clock.now()
        with self._lock:
            self._files_seen += 1
            if self._files_seen <= self.file_cap:
                error = redact(change.error, self.secrets) if change.error else change.error
                self._files.append(
                    (change.path, change.action.value, change.size, error, at, change.kept_at)
                )
            full = self._filled()
        if full and self.on_full is not None:
            self.on_full()

    def _filled(self) -> bool:
        """True the first time since the last flush the buffer holds `batch_rows` (the
        caller holds the lock)."""
        if self._full or len(self._lines) + len(self._files) < self.batch_rows:
            return False
        self._full = True
        return True

    def full(self) -> bool:
        """True when the buffer filled a batch since the last flush, and that flush
        did not fail (what it took waits for the next tick)."""
        with self._lock:
            return self._full and not self._again

    def empty(self) -> bool:
        """True when `flush` would write nothing: no lines, files, progress or counts
        of dropped ones, and no file tasks to follow."""
        with self._lock:
            return not (
                self._lines
                or self._drop
                or self._files
                or self._progress
                or self._files_seen > self.file_cap
                or self.cap.dropped_lines
                or self.tasks is not None
            )

    def flush(self, session: Session) -> dict[str, Any] | None:
        """Write buffered lines and files; return the progress snapshot to store, if new.

        When the caller's transaction fails (a full disk, an outage), it calls
        `put_back` so that the next flush writes them again."""
        with self._lock:
            lines, self._lines = self._lines, []
            drop, self._drop = self._drop, []
            files, self._files = self._files, []
            progress, self._progress = self._progress, None
            self._taken = _Batch(lines, drop, files, progress)
            again, self._again = self._again, False
            self._full = False
            dropped_files = max(0, self._files_seen - self.file_cap)
            dropped_lines, dropped_bytes = self.cap.dropped_lines, self.cap.dropped_bytes
        log_store.append(
            session,
            self.run_id,
            lines,
            drop,
            dropped_lines=dropped_lines,
            dropped_bytes=dropped_bytes,
            again=again,
        )
        log_store.add_files(session, self.run_id, files, dropped_files)
        if self.tasks is not None:
            self.tasks.flush(session, files, progress)
        return progress.as_dict() if progress else None

    def put_back(self) -> None:
        """Return what the last `flush` took to the buffer: its transaction failed.
        Lines the cap pushed out meanwhile stay out; the buffer stays within the cap."""
        with self._lock:
            taken, self._taken = self._taken, None
            if taken is None:
                return
            self._again = True
            self._full = True  # written at the next tick, not at the next row
            gone = set(self._drop)
            self._lines = [line for line in taken.lines if line[0] not in gone] + self._lines
            self._drop = taken.drop + self._drop
            self._files = (taken.files + self._files)[: max(self.file_cap, 0)]
            if self._progress is None:
                self._progress = taken.progress


@dataclass
class _Batch:
    """What one flush took from the buffer."""

    lines: list[log_store.LogLine]
    drop: list[int]
    files: list[log_store.FileLine]
    progress: Progress | None
