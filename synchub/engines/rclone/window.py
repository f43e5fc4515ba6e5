"""rclone runs that wind down when their job's run window closes.

rclone's own `--max-duration` stops starting transfers after a time, and with
`--cutoff-mode soft` lets those in flight finish: no half-written file is left. The
run window's close is passed that way (sync, copy and move: a check has nothing to
cut short, and a bisync cut short needs recovery), and rclone's exit 10 then reads as
"window closed", an end no retry follows: the next window's run picks up where this
one stopped, as a sync does.
"""

from __future__ import annotations

import time
from dataclasses import replace

from synchub.engines.base import Outcome
from synchub.engines.rclone import flags as rclone_flags

#: The ops a window's close winds down.
WOUND_DOWN = frozenset({"sync", "copy", "move"})
#: rclone's exit status when --max-duration was reached.
DURATION_EXIT = 10


def closes_first(
    op: str, options: list[str], timeout_at: int | None, window_s: int | None
) -> int | None:
    """Seconds to pass as --max-duration for the window's close, or None when no window
    applies or another limit comes first: synchub's own for the job's timeout
    (`timeout_at`), or one in the job's options."""
    if window_s is None or op not in WOUND_DOWN:
        return None
    if timeout_at is not None and timeout_at <= window_s:
        return None
    own = _own_max_duration(options)
    if own is not None and own <= window_s:
        return None
    return window_s


def _own_max_duration(options: list[str]) -> float | None:
    """The job's own --max-duration in seconds; None without one (or with 0: none)."""
    for option in reversed(options):
        if rclone_flags.flag_name(option) == "--max-duration":
            seconds = rclone_flags._seconds(option.partition("=")[2])
            return seconds or None
    return None


def args(options: list[str], seconds: int) -> list[str]:
    """The arguments that wind rclone down after `seconds`: soft unless the job chose
    its own --cutoff-mode."""
    own_mode = any(rclone_flags.flag_name(o) == "--cutoff-mode" for o in options)
    return [f"--max-duration={seconds}s", *([] if own_mode else ["--cutoff-mode=soft"])]


def deadline(seconds: int) -> float:
    """The monotonic time the window closes, `seconds` from now."""
    return time.monotonic() + seconds


def left(argv: list[str], closes: float) -> list[str]:
    """`argv` with the window's --max-duration counted from now: a run may start more
    than one rclone (a guarded sync looks first), each of which must stop in time."""
    seconds = max(1, int(closes - time.monotonic()))
    out = list(argv)
    for i in range(len(out) - 1, -1, -1):
        if out[i].startswith("--max-duration="):
            out[i] = f"--max-duration={seconds}s"
            break
    return out


def closed(outcome: Outcome) -> Outcome:
    """The outcome of a run whose window set rclone's --max-duration: its exit 10 is
    the window's close, which no retry follows."""
    if outcome.exit_code != DURATION_EXIT:
        return outcome
    return replace(
        outcome,
        ok=False,
        error_class="window_closed",
        error="The job's run window closed: rclone finished the transfers in flight and "
        "started no more (--max-duration, --cutoff-mode soft); the next run picks up "
        "where this one stopped",
        permanent=True,
    )
