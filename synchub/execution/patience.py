"""Database work that waits out an outage for as long as a run's lease allows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from synchub.store.outage import DB_OUTAGE, is_outage

T = TypeVar("T")


def patiently(doing: str, work: Callable[[], T], *, lease_s: float) -> T:
    """`work()`, tried again (0.1 s, doubling up to 1 s) through a database outage for
    up to `lease_s`: past the run lease the reaper ends the run as lost, so waiting
    longer only holds a pool slot. Then the outage's error is raised."""
    deadline = time.monotonic() + lease_s
    pause = 0.1
    while True:
        try:
            result = work()
        except Exception as exc:
            if not is_outage(exc) or time.monotonic() + pause > deadline:
                raise
            DB_OUTAGE.failed(exc, doing)
            threading.Event().wait(pause)
            pause = min(pause * 2, 1.0)
            continue
        DB_OUTAGE.ok()
        return result
