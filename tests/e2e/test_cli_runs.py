"""`job run --wait` and `runs show` through the real entry point: why a run ended,
what follows, who cancelled it, and what Ctrl-C does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SYNCHUB, Synchub, new_synchub, wait_for


@pytest.fixture
def synchub(tmp_path: Path) -> Iterator[Synchub]:
    s = new_synchub(tmp_path)
    s.env["SYNCHUB_ALLOW_COMMAND_JOBS"] = "1"  # `sh` and `sleep` stand in for slow work
    s("init")
    yield s
    s.stop_all()


def waiting(synchub: Synchub, *args: str) -> subprocess.Popen[str]:
    """`synchub job run ... --wait` in the background, its output captured."""
    return subprocess.Popen(
        [*SYNCHUB, "job", "run", *args, "--wait"],
        env=synchub.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_view(synchub: Synchub, run_id: int) -> dict[str, Any]:
    """The run, or {} while it does not exist yet."""
    proc = synchub("runs", "show", str(run_id), "--json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def run_in(synchub: Synchub, run_id: int, state: str) -> dict[str, Any]:
    view = run_view(synchub, run_id)
    return view if view.get("state") == state else {}


def ended(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out + err


def test_a_missing_source_is_named_and_why_it_is_not_retried_is_said(
    synchub: Synchub, tmp_path: Path
) -> None:
    missing = tmp_path / "card"
    synchub("job", "add", "photos", "--op", "copy", "--source", str(missing),
            "--dest", str(tmp_path / "d"))  # fmt: skip

    proc = synchub("job", "run", "photos", "--wait", check=False)

    # It should name the side that failed, keep rclone's words, and say what follows.
    assert proc.returncode == 1
    assert f"error: source not found: {missing} (Failed to copy: directory not found)" in (
        proc.stdout
    )
    assert "not retried: a missing folder or file does not come back by retrying" in proc.stdout
    (run,) = synchub.json("runs", "list")
    assert run["error"] == f"source not found: {missing} (Failed to copy: directory not found)"
    assert run["next_step"].startswith("not retried: a missing folder")
    assert synchub.json("runs", "list", "--state", "pending") == []
    # It should give the whole cause in the list (piped: one tab-separated row).
    (row,) = synchub("runs", "list").stdout.splitlines()
    assert row.split("\t")[-1] == run["error"]


def test_wait_follows_the_retries_to_the_last_and_says_when_none_is_left(
    synchub: Synchub, tmp_path: Path
) -> None:
    flag = tmp_path / "tried"
    # It fails once, then succeeds: the first attempt's retry must be followed.
    synchub("job", "add", "flaky", "--kind", "command", "--arg", "sh", "--arg", "-c", "--arg",
            f"test -e {flag} || {{ touch {flag}; echo busy >&2; exit 1; }}",
            "--retries", "2", "--retry-delay", "1s")  # fmt: skip
    synchub("job", "add", "broken", "--kind", "command", "--arg", "sh", "--arg", "-c",
            "--arg", "echo no >&2; exit 1", "--retries", "1", "--retry-delay", "1s")  # fmt: skip

    flaky = synchub("job", "run", "flaky", "--wait", check=False)
    broken = synchub("job", "run", "broken", "--wait", check=False)

    assert flaky.returncode == 0, flaky.stdout + flaky.stderr
    assert "run 1 failed" in flaky.stdout and "error: busy" in flaky.stdout
    assert "retry: run 2 (attempt 2) at" in flaky.stdout
    assert "run 2 succeeded" in flaky.stdout
    first = synchub.json("runs", "show", "1")
    assert first["next_step"].startswith("retry 1 of 2 (attempt 2) at ")
    assert broken.returncode == 1
    assert "retry: run 4 (attempt 2) at" in broken.stdout
    assert "not retried: attempt 2 was the last (--retries 1)" in broken.stdout


def test_a_manual_run_of_a_busy_job_is_skipped_at_once_and_a_cancel_names_who(
    synchub: Synchub,
) -> None:
    synchub("job", "add", "busy", "--kind", "command", "--arg", "sleep", "--arg", "60")
    first = waiting(synchub, "busy")
    try:
        wait_for("run 1 to run", lambda: run_in(synchub, 1, "running"))

        asked = synchub("job", "run", "busy", check=False)
        waited = synchub("job", "run", "busy", "--wait", check=False)

        # It should say at once that nothing was started, and why.
        for proc, run_id in ((asked, 2), (waited, 3)):
            assert proc.returncode == 1
            assert f"run {run_id} of busy skipped: run 1 of it was running and the job's " \
                "overlap policy is skip" in proc.stdout  # fmt: skip
            assert "queued" not in proc.stdout
            skipped = synchub.json("runs", "show", str(run_id))
            assert (skipped["state"], skipped["reason"]) == ("skipped", "overlap")
        synchub("runs", "cancel", "1")
        code, out = ended(first)
    finally:
        first.kill()
    assert code == 1 and "error: cancelled by cli" in out
    cancelled = synchub.json("runs", "show", "1")
    assert (cancelled["state"], cancelled["error"]) == ("cancelled", "cancelled by cli")


def test_ctrl_c_cancels_a_run_it_runs_here_and_says_so_first(synchub: Synchub) -> None:
    synchub("job", "add", "long", "--kind", "command", "--arg", "sleep", "--arg", "60")
    proc = waiting(synchub, "long")
    try:
        wait_for("run 1 to run", lambda: run_in(synchub, 1, "running"))
        proc.send_signal(signal.SIGINT)
        code, out = ended(proc)
    finally:
        proc.kill()
    assert out.index("Ctrl-C cancels it") < out.index("cancelling run 1")
    assert code == 1 and "error: cancelled by cli" in out
    assert synchub.json("runs", "show", "1")["state"] == "cancelled"


def test_ctrl_c_only_stops_waiting_for_a_run_the_server_runs(synchub: Synchub) -> None:
    synchub("job", "add", "long", "--kind", "command", "--arg", "sleep", "--arg", "60")
    synchub.serve()
    proc = waiting(synchub, "long")
    try:
        wait_for("run 1 to run", lambda: run_in(synchub, 1, "running"))
        proc.send_signal(signal.SIGINT)
        code, out = ended(proc)
    finally:
        proc.kill()

    assert "handed to the server; Ctrl-C stops waiting (the run goes on)" in out
    assert code == 130 and "stopped waiting; run 1 goes on" in out
    assert "synchub runs cancel 1" in out
    assert synchub.json("runs", "show", "1")["state"] == "running"
    synchub("runs", "cancel", "1")
    wait_for("run 1 to be cancelled", lambda: run_in(synchub, 1, "cancelled"))


def slow_job(synchub: Synchub, tmp_path: Path, *options: str) -> None:
    """A copy of 3 MiB at 50 KiB/s: a minute unless stopped."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    synchub("job", "add", "slow", "--op", "copy", "--source", str(src), "--dest",
            str(tmp_path / "dst"), "--option", "--bwlimit=50k", *options)  # fmt: skip


def test_runs_show_reads_as_fields_with_the_files_in_flight(
    synchub: Synchub, tmp_path: Path
) -> None:
    slow_job(synchub, tmp_path)
    proc = waiting(synchub, "slow")
    try:
        wait_for(
            "a file in flight",
            lambda: (run_view(synchub, 1).get("progress") or {}).get("transferring"),
        )
        shown = synchub("runs", "show", "1").stdout
        synchub("runs", "cancel", "1")
        code, out = ended(proc)
    finally:
        proc.kill()

    # It should print aligned fields, sizes for people, and each file in flight.
    assert shown.startswith("run 1 of slow: running (manual)\n")
    assert "  progress    " in shown and "KiB" in shown
    assert "\n  in flight\n    big.bin  " in shown and "of 3.0 MiB" in shown
    for python in ("None", "{", "'"):
        assert python not in shown
    assert code == 1 and "error: cancelled by cli" in out
    ended_shown = synchub("runs", "show", "1").stdout
    assert ended_shown.startswith("run 1 of slow: cancelled (manual)\n")
    assert "  error       cancelled by cli\n" in ended_shown
    assert "  finished    " in ended_shown and ", took " in ended_shown
    assert "  transferred 0 file(s), " in ended_shown and "None" not in ended_shown


def test_a_timed_out_run_lasted_until_its_timeout(synchub: Synchub, tmp_path: Path) -> None:
    slow_job(synchub, tmp_path, "--timeout", "3s", "--retries", "0")

    proc = synchub("job", "run", "slow", "--wait", check=False)

    # rclone's last stats line is up to a second old when it is stopped: the run
    # lasted its 3 s all the same.
    assert proc.returncode == 1 and "run 1 timed_out" in proc.stdout
    done = synchub.json("runs", "show", "1")
    assert done["state"] == "timed_out" and done["stats"]["elapsed_s"] >= 3
    assert "not retried: the job has --retries 0" in proc.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["runs", "list", "--limit", "x"], "--limit"),
        (["runs", "list", "--limit", "0"], "--limit"),
        (["job", "run"], "Missing argument"),
        (["job", "run", "j", "--wiat"], "--wiat"),
        (["jbo"], "No such command 'jbo'"),
        (["job", "add", "j", "--source", "/s", "--dest", "/d", "--retries", "many"], "--retries"),
    ],
)
def test_a_usage_error_is_one_line_on_stderr(synchub: Synchub, args: list[str], words: str) -> None:
    proc = synchub(*args, check=False)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and words in line and "--help" in line
    assert proc.stdout == ""


def test_watching_a_folder_that_does_not_exist_says_so_and_saves_the_job(
    synchub: Synchub, tmp_path: Path
) -> None:
    missing = tmp_path / "usb"
    proc = synchub("job", "add", "usb", "--source", str(missing), "--dest",
                   str(tmp_path / "d"), "--watch")  # fmt: skip
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"warning: source folder {missing} does not exist")
    assert synchub.json("job", "show", "usb")["watch"] is True
