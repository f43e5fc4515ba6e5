"""A run's window as the runner sees it when the run starts (core.windows)."""

from __future__ import annotations

from datetime import datetime

from synchub.core.windows import keeps_to, seconds_to_close
from synchub.engines.base import Outcome
from synchub.store.jobs import RunExtras

#: The end of a run that could start only after its window had closed: it did nothing.
SHUT = Outcome(
    ok=False,
    error_class="window",
    error="The job's run window was shut when the run could start; it did nothing "
    "(its next fire time in a window runs)",
)


def window_left(extras: RunExtras, now: datetime) -> tuple[bool, int | None]:
    """(whether the run may start, seconds until its window closes or None without one)."""
    if not keeps_to(extras.windows, extras.trigger) or extras.windows_tz is None:
        return True, None
    left = seconds_to_close(extras.windows, extras.windows_tz, now)
    return left is not None, left
