"""`synchub serve` as users run it: killed, restarted, doubled."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.conftest import Synchub, alive, children_named, wait_for

pytestmark = pytest.mark.slow


def test_a_server_killed_mid_run_loses_nothing_and_leaves_no_rclone(
    synchub: Synchub, tmp_path: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    synchub(
        "job",
        "add",
        "backup",
        "--source",
        str(src),
        "--dest",
        str(dst),
        "--option",
        "--bwlimit=64k",
        "--retries",
        "2",
        "--retry-delay",
        "1s",
    )
    server = synchub.serve()
    synchub("job", "run", "backup")
    run = wait_for(
        "the run to start",
        lambda: next((r for r in synchub.json("runs", "list") if r["state"] == "running"), None),
    )
    rclone = wait_for("rclone to start", lambda: children_named(server.pid, "rclone"))

    os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    # It should not leave rclone running behind the dead server.
    wait_for("rclone to die with its server", lambda: not any(alive(p) for p in rclone), 10)

    synchub("job", "edit", "backup", "--option", "--checksum")  # full speed for the retry
    synchub.serve()
    retry = wait_for(
        "the retry to succeed",
        lambda: next(
            (
                r
                for r in synchub.json("runs", "list")
                if r["retry_of"] == run["id"] and r["state"] == "succeeded"
            ),
            None,
        ),
        60,
    )
    runs = synchub.json("runs", "list", "--job", "backup")
    first = next(r for r in runs if r["id"] == run["id"])
    # It should have marked the interrupted run lost, retried it once, and nothing more.
    assert first["state"] == "lost"
    assert first["celery_state"] == "RETRY"
    assert retry["trigger"] == "retry" and retry["attempt"] == 2
    assert len(runs) == 2
    assert (dst / "big.bin").read_bytes() == (src / "big.bin").read_bytes()


def test_two_servers_on_one_database_fire_each_second_once(
    synchub: Synchub, tmp_path: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.txt").write_text("a")
    synchub("job", "add", "tick", "--source", str(src), "--dest", str(dst), "--every", "1s")
    synchub.serve()
    synchub.serve()
    wait_for(
        "ten scheduled runs",
        lambda: (
            len(
                [
                    r
                    for r in synchub.json("runs", "list", "--limit", "1000")
                    if r["state"] == "succeeded"
                ]
            )
            >= 10
        ),
        60,
    )
    synchub("job", "disable", "tick")
    synchub.stop_all()
    runs = synchub.json("runs", "list", "--job", "tick", "--limit", "1000")
    fires = [r["scheduled_for"] for r in runs if r["trigger"] == "schedule"]
    assert len(fires) == len(set(fires))
    assert all(r["state"] in ("succeeded", "skipped") for r in runs)
    # Fire times are on the one-second grid of the job's creation, with no gaps.
    assert len(fires) >= 10


def test_sigterm_lets_a_short_run_finish(synchub: Synchub, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "f.bin").write_bytes(os.urandom(200 * 1024))
    synchub(
        "job",
        "add",
        "short",
        "--source",
        str(src),
        "--dest",
        str(dst),
        "--option",
        "--bwlimit=100k",
    )
    server = synchub.serve()
    synchub("job", "run", "short")
    wait_for("the run to start", lambda: synchub.json("runs", "list")[0]["state"] == "running")
    os.killpg(server.pid, signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    (run,) = synchub.json("runs", "list")
    assert run["state"] == "succeeded"
    assert (dst / "f.bin").exists()


def test_a_cli_edit_reaches_a_running_server_without_a_spurious_run(
    synchub: Synchub, tmp_path: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.txt").write_text("a")
    synchub("job", "add", "j", "--source", str(src), "--dest", str(dst), "--cron", "0 3 1 1 *")
    synchub.serve()
    # Added while the server runs: it should fire without a restart.
    synchub("job", "edit", "j", "--every", "1s")
    first = wait_for(
        "a scheduled run after the edit",
        lambda: [r for r in synchub.json("runs", "list") if r["trigger"] == "schedule"],
    )
    edited_at = synchub.json("job", "show", "j")["schedule"]["anchor"]
    # It should count from the edit: no run for a fire time before it.
    assert all(r["scheduled_for"] > edited_at for r in first)
    synchub("job", "disable", "j")
    count = len(synchub.json("runs", "list", "--limit", "1000"))
    synchub("job", "run", "j", "--wait")  # a manual run still works when disabled
    assert len(synchub.json("runs", "list", "--limit", "1000")) in (count + 1, count + 2)


def test_cancel_from_another_process_stops_rclone_on_the_server(
    synchub: Synchub, tmp_path: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    synchub(
        "job", "add", "slow", "--source", str(src), "--dest", str(dst), "--option", "--bwlimit=32k"
    )
    server = synchub.serve()
    synchub("job", "run", "slow")
    run = wait_for(
        "the run to start",
        lambda: next((r for r in synchub.json("runs", "list") if r["state"] == "running"), None),
    )
    rclone = wait_for("rclone to start", lambda: children_named(server.pid, "rclone"))
    synchub("runs", "cancel", str(run["id"]))
    done = wait_for(
        "the run to end",
        lambda: next((r for r in synchub.json("runs", "list") if r["finished_at"]), None),
    )
    assert done["state"] == "cancelled"
    assert done["celery_state"] == "REVOKED"
    wait_for("rclone to stop", lambda: not any(alive(p) for p in rclone), 10)
    # A cancel is final: no retry.
    assert len(synchub.json("runs", "list")) == 1


def test_a_run_still_going_after_the_shutdown_grace_is_stopped_and_retried(
    synchub: Synchub, tmp_path: Path
) -> None:
    synchub.env["SYNCHUB_SHUTDOWN_GRACE"] = "1"
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    synchub(
        "job",
        "add",
        "slow",
        "--source",
        str(src),
        "--dest",
        str(dst),
        "--option",
        "--bwlimit=32k",
        "--retries",
        "1",
    )
    server = synchub.serve()
    synchub("job", "run", "slow")
    wait_for("the run to start", lambda: synchub.json("runs", "list")[0]["state"] == "running")
    rclone = wait_for("rclone to start", lambda: children_named(server.pid, "rclone"))
    os.killpg(server.pid, signal.SIGTERM)
    assert server.wait(timeout=60) == 0
    assert not any(alive(p) for p in rclone)
    runs = synchub.json("runs", "list")
    assert [r["state"] for r in runs] == ["pending", "lost"]
    assert runs[0]["trigger"] == "retry"


def test_logs_follow_prints_lines_until_the_run_ends(synchub: Synchub, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.txt").write_text("a")
    synchub("job", "add", "j", "--source", str(src), "--dest", str(dst))
    synchub.serve()
    synchub("job", "run", "j")
    run_id = synchub.json("runs", "list")[0]["id"]
    out = synchub("runs", "logs", str(run_id), "--follow").stdout
    assert "a.txt" in out
    assert f"run {run_id} ended: succeeded" in out
