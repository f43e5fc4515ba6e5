"""`synchub alert` as an operator uses it, with `serve` delivering for real to a JSON
receiver: a failure told once, its recovery once, and a kill -9 loses no message."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.conftest import Synchub, wait_for
from tests.integration.test_alerts import Receiver

pytestmark = pytest.mark.slow


def test_serve_tells_a_failure_and_its_recovery_and_keeps_messages_across_kill_9(
    synchub: Synchub, tmp_path: Path
) -> None:
    receiver = Receiver()
    try:
        src, dst = tmp_path / "src", tmp_path / "dst"
        synchub("job", "add", "backup", "--source", str(src), "--dest", str(dst),
                "--retries", "0")  # fmt: skip
        done = synchub("alert", "add", "ops", receiver.url, "--job", "backup")
        assert "failure, recovery, stale of backup to json://127.0.0.1/…" in done.stdout
        assert synchub("alert", "add", "bad", "nope", check=False).returncode == 2
        assert (
            synchub("alert", "add", "bad", receiver.url, "--after", "0", check=False).returncode
            == 2
        )
        assert "test message delivered" in synchub("alert", "test", "ops").stdout
        receiver.bodies.clear()

        # The first retry comes 10 s after a failed attempt (a minute by default): well
        # after the kill below, so no attempt is cut off holding the message.
        synchub.env["SYNCHUB_ALERT_FIRST_RETRY"] = "10"
        receiver.up = False  # the message waits in the outbox
        server = synchub.serve()
        synchub("job", "run", "backup", "--wait", check=False)  # the source is missing
        wait_for(
            "a failed delivery",
            lambda: "failed" in str(synchub.json("alert", "show", "ops")["last_result"]),
        )
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        receiver.up = True
        assert synchub.json("alert", "show", "ops")["waiting"] == 1
        synchub.serve()
        # The retry waits for SYNCHUB_ALERT_FIRST_RETRY: wait for the outbox, not a clock
        # (and past the 2 minutes a message is held, should the kill have cut an attempt).
        wait_for("the failure message", lambda: receiver.bodies, 150)
        assert [b["title"] for b in receiver.bodies] == ["synchub: backup failed"]
        assert "source" in receiver.bodies[0]["message"]
        src.mkdir()
        (src / "a.txt").write_text("a")
        synchub("job", "run", "backup", "--wait")
        wait_for("the recovery message", lambda: len(receiver.bodies) == 2)
        assert receiver.bodies[1]["title"] == "synchub: backup recovered"
        listed = synchub("alert", "list").stdout
        assert "ops" in listed and "delivered" in listed
        synchub("alert", "remove", "ops")
        assert synchub("alert", "show", "ops", check=False).returncode == 3
    finally:
        receiver.server.shutdown()


def test_alert_edit_changes_what_is_given_and_refuses_bad_input(synchub: Synchub) -> None:
    synchub("alert", "add", "ops", "json://127.0.0.1:9/hook", "--after", "2")
    done = synchub("alert", "edit", "ops", "--on", "failure", "--tag", "photos")
    assert "failure of tag:photos to json://127.0.0.1/… after 2 failed" in done.stdout
    before = synchub.json("alert", "show", "ops")
    for bad in [
        ["--url", "nope"],
        ["--after", "0"],
        ["--on", "boom"],
        ["--clear", "tags", "--tag", "x"],
        ["--clear", "colors"],
        ["--digest-at", "8am"],
        [],
    ]:
        assert synchub("alert", "edit", "ops", *bad, check=False).returncode == 2, bad
    assert synchub("alert", "edit", "ops", "--job", "nope", check=False).returncode == 3
    assert synchub.json("alert", "show", "ops") == before
    assert "of every job" in synchub("alert", "edit", "ops", "--clear", "tags").stdout
    done = synchub("alert", "edit", "ops", "--on", "failure,digest", "--digest-at", "7:00")
    assert "failure, digest of every job" in done.stdout
    assert "digest daily at 07:00" in done.stdout


def test_job_mute_and_unmute(synchub: Synchub, tmp_path: Path) -> None:
    synchub("job", "add", "backup", "--source", str(tmp_path), "--dest", str(tmp_path / "d"))
    assert "muted alerts of backup until 20" in synchub("job", "mute", "backup", "2h").stdout
    assert "alerts muted until 20" in synchub("job", "show", "backup").stdout
    assert synchub.json("job", "show", "backup")["muted_until"]
    for bad in ["2", "0s", "soon"]:
        assert synchub("job", "mute", "backup", bad, check=False).returncode == 2, bad
    assert synchub("job", "mute", "nope", "1h", check=False).returncode == 3
    assert "alerts of backup are on" in synchub("job", "unmute", "backup").stdout
    assert "muted" not in synchub("job", "show", "backup").stdout
