"""Watched folders: which jobs have changes not yet run, and when they have settled.

A watcher thread marks a job dirty at each change it sees in the job's folder; the
scheduler asks which dirty jobs have been quiet for the settle time and fires one
run for each. A burst of 10,000 files is 10,000 marks of the same job and one run.
Files still being written keep changing, so the settle time covers them too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Settled:
    job_id: int
    last_change: datetime  #: the mark that settled; a newer one keeps the job dirty


class Dirty:
    """Dirty jobs and the time of each one's last change. Thread-safe: the watcher
    thread marks, the scheduler reads and clears."""

    def __init__(self, settle_s: float) -> None:
        if settle_s < 0:
            raise ValueError("settle_s must not be negative")
        self.settle = timedelta(seconds=settle_s)
        self._lock = threading.Lock()
        self._last: dict[int, datetime] = {}
        #: settled, but waiting for the job's running run to end
        self._deferred: set[int] = set()

    def mark(self, job_id: int, at: datetime) -> None:
        """Record a change in the job's folder at `at` (later marks win)."""
        with self._lock:
            last = self._last.get(job_id)
            if last is None or at > last:
                self._last[job_id] = at
            self._deferred.discard(job_id)

    def settled(self, now: datetime) -> list[Settled]:
        """Dirty jobs quiet for the settle time at `now`, deferred ones included."""
        with self._lock:
            return [
                Settled(job_id, last)
                for job_id, last in sorted(self._last.items())
                if now - last >= self.settle
            ]

    def clear(self, settled: Settled) -> bool:
        """Forget the job's changes unless a newer one came in meanwhile; True when
        forgotten."""
        with self._lock:
            if self._last.get(settled.job_id) != settled.last_change:
                return False
            del self._last[settled.job_id]
            self._deferred.discard(settled.job_id)
            return True

    def defer(self, job_id: int) -> None:
        """Keep the job dirty without asking to be woken for it: its run is running
        and it is looked at again on the scheduler's next pass."""
        with self._lock:
            if job_id in self._last:
                self._deferred.add(job_id)

    def keep_only(self, job_ids: set[int]) -> None:
        """Forget the jobs not in `job_ids` (deleted, disabled, no longer watched)."""
        with self._lock:
            for job_id in set(self._last) - job_ids:
                del self._last[job_id]
            self._deferred &= job_ids

    def due_at(self) -> datetime | None:
        """When the next dirty job settles (deferred ones aside), or None."""
        with self._lock:
            times = [t for j, t in self._last.items() if j not in self._deferred]
        return min(times) + self.settle if times else None

    def __contains__(self, job_id: object) -> bool:
        with self._lock:
            return job_id in self._last
