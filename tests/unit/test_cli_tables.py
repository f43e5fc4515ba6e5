"""How the CLI lays out lists: fitted to a terminal, whole for scripts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.cells import cell_len

from synchub.api.schemas.jobs import JobPublic
from synchub.api.schemas.runs import RunPublic
from synchub.cli.job_output import JOB_COLUMNS, job_row
from synchub.cli.remotes import REMOTE_COLUMNS
from synchub.cli.runs import RUN_COLUMNS, run_row
from synchub.cli.tables import Column, Fit, Layout, cut, lines, relative, stdout_layout
from synchub.cli.tasks import TASK_COLUMNS, _task_row
from synchub.cli.tokens import TOKEN_COLUMNS
from synchub.core.runs import RunStats
from synchub.core.tasks import TaskState
from synchub.services.jobs.job_views import JobView, LastRun, ScheduleView
from synchub.services.run_views import RunView
from synchub.services.tasks import TaskView
from tests.support.views import a_run

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
AT_80 = Layout(terminal=True, width=80, now=NOW)
PIPED = Layout(terminal=False, width=80, now=NOW)
LONG_SOURCE = "/home/margaret/pictures/family/holidays/2026/summer-in-the-alps"
LONG_DEST = "nas-backup:/volume1/backups/margaret/pictures/family/holidays/2026"
FAR_ZONE = "America/Argentina/Buenos_Aires"


def ago(**delta: float) -> str:
    return (NOW - timedelta(**delta)).isoformat()


def shown_ago(**delta: float) -> str:
    """`ago` as the API writes it (and a list not at a terminal shows it)."""
    return ago(**delta).replace("+00:00", "Z")


LAST = LastRun(id=9, state="timed_out", attempt=2, dry_run=False, at=ago(minutes=3))


def job(name: str, *, enabled: bool = True, last_run: LastRun | None = LAST) -> dict[str, Any]:
    """The job as `job list` gets it: as the API shows it."""
    schedule = ScheduleView("cron", "30 2 * * 1-5", FAR_ZONE, None, None, "At 02:30")
    view = JobView(
        id=1, name=name, kind="rclone",
        params={"op": "sync", "source": LONG_SOURCE, "destination": LONG_DEST},
        schedule=schedule, misfire="skip", queue="default", retries=0, retry_delay_s=60,
        timeout_s=None, stale_after_s=None, long_after_s=None, overlap="skip",
        enabled=enabled, tags=[], watch=False, keep_runs=None, keep_logs=None, windows=[],
        windows_tz=None, max_depth=None, delete_guard="50%", require_marker=None,
        check_access=None, keep_deleted=None, watch_problem=None, muted_until=None, hooks={},
        after=[], chained_by=[], next_fire_at="2026-12-07T02:30:00-03:00",
        created_at=ago(days=1), updated_at=ago(days=1),
    )  # fmt: skip
    return JobPublic.of(view, last_run).model_dump(mode="json")


def run(number: int) -> dict[str, Any]:
    """The run as `runs list` gets it: as the API shows it."""
    return RunPublic.of(_run_view(number)).model_dump(mode="json")


def _run_view(number: int) -> RunView:
    return a_run(
        id=number,
        job="photos-of-the-whole-family",
        job_deleted=True,
        state="failed",
        attempt=3,
        dry_run=False,
        trigger="schedule",
        started_at=ago(hours=2),
        scheduled_for=None,
        created_at=ago(hours=2),
        finished_at=ago(hours=1),
        stats=RunStats(elapsed_s=3605.2, files=123456, bytes=1288490189),
        error="Failed to sync: directory not found: " + LONG_SOURCE,
        reason=None,
    )


def test_a_path_is_cut_in_the_middle_keeping_its_start_and_file_name() -> None:
    assert cut("/very/long/path/to/file.txt", 20, Fit.MIDDLE) == "/very/long…/file.txt"
    assert cut("Failed to sync: directory not found", 16, Fit.END) == "Failed to sync:…"
    assert cut("short", 20, Fit.MIDDLE) == "short"


def test_a_source_and_its_destination_are_cut_each_on_its_side() -> None:
    cell = cut(f"sync {LONG_SOURCE} → {LONG_DEST}", 40, Fit.MIDDLE)
    assert cell_len(cell) == 40
    left, right = cell.split(" → ")
    assert left.startswith("sync /h") and left.endswith("alps")
    assert right.startswith("nas-b") and right.endswith("2026")


def test_times_are_relative_at_a_terminal_and_exact_elsewhere() -> None:
    assert relative(NOW - timedelta(minutes=3, seconds=10), NOW) == "3 min ago"
    assert relative(NOW + timedelta(hours=2, minutes=5), NOW) == "in 2 h"
    assert relative(NOW, NOW) == "now"
    assert AT_80.when(ago(days=3)) == "3 d ago"
    assert PIPED.when(ago(days=3)) == "2026-12-03T09:00:00+00:00"
    assert (AT_80.when(None), PIPED.when(None, none="never")) == ("-", "never")


@pytest.mark.parametrize(
    ("columns", "rows"),
    [
        (JOB_COLUMNS, [job_row(job(f"nightly-photos-{n}"), AT_80) for n in range(3)]),
        (JOB_COLUMNS, [job_row(job("off", enabled=False, last_run=None), AT_80)]),
        (RUN_COLUMNS, [run_row(run(n), AT_80) for n in (7, 1234)]),
        (
            REMOTE_COLUMNS,
            [["nas-backup", "sftp", "host=nas.example.org user=margaret pass=********", "4",
              "nightly-photos, weekly-documents, music"]],
        ),
        (
            TOKEN_COLUMNS,
            [["release-pipeline", "operator", "compat-rsh", "active", "shub_abcd… (given)",
              AT_80.when(ago(days=40)), AT_80.when(ago(days=-300)),
              AT_80.when(ago(seconds=5))]],
        ),
        (
            TASK_COLUMNS,
            [_task_row(TaskView(id=4711, job="inbox-scanner", job_id=1, state=TaskState.FAILED,
                        path="scans/2026/december/invoices/very-long-invoice-name.pdf",
                        size=7340032, bytes=0, percent=42, run_id=1234, speed_bps=None,
                        eta_s=None, error="Failed to copy: permission denied",
                        created_at="", seen_at="", started_at=None, finished_at=None,
                        duration_s=None), AT_80)],
        ),
    ],
)  # fmt: skip
def test_every_list_fits_80_columns_at_a_terminal_one_line_a_row(
    columns: tuple[Column, ...], rows: list[list[str]]
) -> None:
    shown = lines(columns, rows, AT_80)
    assert len(shown) == 1 + len(rows)  # the header, then one line per row
    assert max(cell_len(line) for line in shown) <= 80
    assert shown[0].split() == " ".join(c.header for c in columns).split()


def test_a_job_row_says_when_it_fires_and_how_its_last_run_went() -> None:
    row = job_row(job("nightly"), AT_80)
    assert row[0] == "nightly"
    assert row[2] == "30 2 * * 1-5 (America/Argentina/Buenos_Aires)"
    assert row[3:] == ["in 20 h", "timed_out", "3 min ago"]  # 05:30 UTC tomorrow
    assert job_row(job("off", enabled=False, last_run=None), AT_80)[3:] == ["disabled", "-", "-"]


def test_a_run_row_at_a_terminal_reads_sizes_and_durations_as_people_do() -> None:
    row = run_row(run(7), AT_80)
    assert row[2:8] == ["failed #3", "schedule", "2 h ago", "1h 0m", "123456", "1.2 GiB"]
    assert run_row(run(7), PIPED)[4:8] == [shown_ago(hours=2), "3605.2s", "123456", "1288490189"]


def test_elsewhere_a_row_is_one_line_of_tab_separated_cells_nothing_cut() -> None:
    rows = [job_row(job("nightly"), PIPED), ["a\tb", "two\nlines", "x", "y", "z", "w"]]
    shown = lines(JOB_COLUMNS, rows, PIPED)
    assert shown[0].split("\t") == [
        "nightly",
        f"sync {LONG_SOURCE} → {LONG_DEST}",
        "30 2 * * 1-5 (America/Argentina/Buenos_Aires)",
        "2026-12-07T02:30:00-03:00",
        "timed_out",
        shown_ago(minutes=3),
    ]
    # It should keep a value's tab or line break from splitting its row.
    assert shown[1] == "a\\tb\ttwo\\nlines\tx\ty\tz\tw"
    assert len(shown) == 2  # no header


def test_the_layout_follows_standard_output_and_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "93")
    layout = stdout_layout(NOW)
    assert (layout.width, layout.now) == (93, NOW)
    assert layout.terminal is False  # pytest captures standard output
