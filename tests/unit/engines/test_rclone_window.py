"""An rclone run in a run window: the window's close reaches rclone as --max-duration
with --cutoff-mode soft, unless another limit comes first; rclone's exit 10 then
reads as "window closed", which no retry follows."""

from __future__ import annotations

from typing import Any

import pytest

from synchub.core.runs import RunStats
from synchub.engines.base import Outcome
from synchub.engines.rclone.engine import RcloneEngine
from synchub.engines.rclone.window import closed, left

KNOWN = frozenset({"nas"})


@pytest.fixture(scope="module")
def engine() -> RcloneEngine:
    return RcloneEngine(binary=None, kill_grace=5.0)


def argv(engine: RcloneEngine, *, timeout_s: int | None = None, window_s: int | None = None,
         **params: Any) -> list[str]:  # fmt: skip
    valid = engine.validate({"source": "/data", "destination": "nas:backup", **params}, KNOWN)
    return engine.argv(valid, first_run=False, timeout_s=timeout_s, window_s=window_s)


def limits(args: list[str]) -> list[str]:
    return [a for a in args if a.startswith(("--max-duration", "--cutoff-mode"))]


def test_the_windows_close_winds_a_sync_down_softly(engine: RcloneEngine) -> None:
    assert limits(argv(engine, window_s=1800)) == ["--max-duration=1800s", "--cutoff-mode=soft"]
    assert limits(argv(engine, op="copy", window_s=60)) == [
        "--max-duration=60s",
        "--cutoff-mode=soft",
    ]


def test_the_limit_that_comes_first_is_passed(engine: RcloneEngine) -> None:
    # The timeout (less its margin) before the close: as without a window.
    assert limits(argv(engine, timeout_s=600, window_s=3600)) == ["--max-duration=570s"]
    assert limits(argv(engine, timeout_s=7200, window_s=3600)) == [
        "--max-duration=3600s",
        "--cutoff-mode=soft",
    ]
    # The job's own --max-duration before the close: its own stays alone.
    own = argv(engine, options=["--max-duration=10m"], window_s=3600)
    assert limits(own) == ["--max-duration=10m"]
    later = argv(engine, options=["--max-duration=2h"], window_s=3600)
    assert limits(later) == ["--max-duration=2h", "--max-duration=3600s", "--cutoff-mode=soft"]


def test_a_jobs_own_cutoff_mode_is_kept(engine: RcloneEngine) -> None:
    args = argv(engine, options=["--cutoff-mode=cautious"], window_s=60)
    assert limits(args) == ["--cutoff-mode=cautious", "--max-duration=60s"]


def test_check_and_bisync_are_not_cut_short(engine: RcloneEngine) -> None:
    assert limits(argv(engine, op="check", window_s=60)) == []
    assert limits(argv(engine, op="bisync", window_s=60)) == []
    assert limits(argv(engine)) == []


def test_each_rclone_of_a_run_gets_the_time_left() -> None:
    import time

    args = ["rclone", "sync", "--max-duration=10m", "--max-duration=3600s", "--cutoff-mode=soft"]
    counted = left(args, time.monotonic() + 100.5)
    assert counted[2] == "--max-duration=10m"
    assert counted[3] in ("--max-duration=100s", "--max-duration=99s")
    assert left(args, time.monotonic() - 5)[3] == "--max-duration=1s"


def test_exit_10_is_the_window_closing_and_is_not_retried() -> None:
    stats = RunStats(bytes=5, files=1)
    ended = closed(Outcome(ok=False, exit_code=10, error_class="duration_limit", stats=stats))
    assert (ended.error_class, ended.permanent, ended.stats) == ("window_closed", True, stats)
    assert ended.error is not None and ended.error.startswith("The job's run window closed")
    other = Outcome(ok=False, exit_code=5, error_class="temporary")
    assert closed(other) is other
