"""How `runs show` and `job run --wait` print sizes, durations and a run."""

from __future__ import annotations

from typing import Any

from synchub.cli.run_show import duration, run_lines, size
from synchub.core.runs import RunStats
from synchub.services.run_views import RunView
from tests.support.views import a_run


def test_sizes_read_in_binary_units() -> None:
    assert [size(n) for n in (0, 1023, 1024, 1536, 5 * 1024**2, 3 * 1024**3, 2 * 1024**4)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "5.0 MiB", "3.0 GiB", "2.0 TiB",
    ]  # fmt: skip


def test_durations_read_as_seconds_minutes_or_hours() -> None:
    assert [duration(s) for s in (0.04, 3.0, 59.9, 61, 3599, 3600, 7265)] == [
        "0.0s", "3.0s", "59.9s", "1m01s", "59m59s", "1h00m", "2h01m",
    ]  # fmt: skip


def view(**changes: Any) -> RunView:
    return a_run(**changes)


def test_a_running_run_lists_its_files_in_flight_and_no_python_reprs() -> None:
    progress = {
        "bytes": 3 * 1024**2, "total_bytes": 30 * 1024**2, "transfers": 1,
        "total_transfers": 3, "errors": 0, "speed_bps": 2 * 1024**2, "eta_s": 13.0,
        "scanning": False,
        "transferring": [{"name": "big.bin", "size": 30 * 1024**2, "bytes": 2 * 1024**2,
                          "percentage": 6, "speed": 2 * 1024**2, "eta": 13}],
    }  # fmt: skip
    lines = run_lines(view(progress=progress))
    assert lines[0] == "run 7 of photos: running (manual)"
    assert "  progress    3.0 MiB of 30.0 MiB at 2.0 MiB/s, 13.0s left; 1 of 3 file(s), " \
        "0 error(s)" in lines  # fmt: skip
    assert lines[-2:] == ["  in flight", "    big.bin  2.0 MiB of 30.0 MiB (6%) at 2.0 MiB/s"]
    assert not any(word in line for line in lines for word in ("None", "{", "'"))


def test_an_ended_run_says_why_and_what_follows_in_one_aligned_column() -> None:
    lines = run_lines(view(
        state="failed", finished_at="2026-12-06T09:00:03+00:00", exit_code=3,
        error_class="not_found", error="source not found: /srv/photos (Failed to copy: ...)",
        next_step="not retried: a missing folder ...",
        stats=RunStats(elapsed_s=2.0, errors=1),
    ))  # fmt: skip
    assert "  error       source not found: /srv/photos (Failed to copy: ...)" in lines
    assert "  next        not retried: a missing folder ..." in lines
    assert "  exit code   3 (not_found)" in lines
    assert any(line.startswith("  finished    ") and line.endswith(", took 2.0s") for line in lines)
    assert "  transferred 0 file(s), 0 B at 0 B/s; 0 checked, 0 deleted, 0 renamed, " \
        "1 error(s)" in lines  # fmt: skip
