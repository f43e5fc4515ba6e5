"""Hooks and chains through the real `synchub` command: `--hook`, `--after`,
`--clear`, `job show` both ways, a run with its hooks and its chained run, and
bad input (exit 2, nothing changed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Synchub


@pytest.fixture
def synchub_allowing_commands(synchub: Synchub) -> Synchub:
    synchub.env["SYNCHUB_ALLOW_COMMAND_JOBS"] = "1"
    return synchub


def say(text: str) -> str:
    return json.dumps([sys.executable, "-c", f"print({text!r})"])


def add_pair(synchub: Synchub, tmp_path: Path) -> None:
    synchub(
        "job", "add", "backup", "--source", str(tmp_path), "--dest", str(tmp_path / "out"),
        "--op", "copy", "--hook", f"before:fail:30s={say('mounted')}",
        "--hook", f"finally={say('unmounted')}",
    )  # fmt: skip
    synchub("job", "add", "verify", "--kind", "command", "--arg", sys.executable,
            "--arg", "-c", "--arg", "print('verified')", "--after", "backup:always")  # fmt: skip


def test_hooks_and_links_are_set_shown_and_run(
    synchub_allowing_commands: Synchub, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("a")
    add_pair(synchub_allowing_commands, tmp_path)
    shown = synchub_allowing_commands("job", "show", "backup").stdout
    assert "hook before: " in shown and "(timeout 30s, on error fail)" in shown
    assert "followed by verify (on always)" in shown
    assert "runs after backup (always)" in synchub_allowing_commands("job", "show", "verify").stdout
    done = synchub_allowing_commands("job", "run", "backup", "--wait", check=False)
    assert done.returncode == 0, done.stderr
    (run,) = synchub_allowing_commands.json("runs", "list", "--job", "backup")
    log = synchub_allowing_commands("runs", "logs", str(run["id"])).stdout
    assert "[before] mounted" in log and "[finally] unmounted" in log
    # It should have asked for a run of the chained job, naming the upstream run.
    (chained,) = synchub_allowing_commands.json("runs", "list", "--job", "verify")
    assert (chained["trigger"], chained["chained_from"]) == ("chain", run["id"])


def test_an_upstream_job_cannot_be_removed_and_links_can_be_cleared(
    synchub_allowing_commands: Synchub, tmp_path: Path
) -> None:
    add_pair(synchub_allowing_commands, tmp_path)
    bad = synchub_allowing_commands("job", "remove", "backup", check=False)
    assert bad.returncode == 2
    assert "verify run after it" in bad.stderr
    synchub_allowing_commands("job", "edit", "verify", "--clear", "after")
    synchub_allowing_commands("job", "edit", "backup", "--clear", "hooks")
    assert synchub_allowing_commands.json("job", "show", "backup")["hooks"] == {}
    synchub_allowing_commands("job", "remove", "backup")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--after", "verify"], "cycle of jobs, backup -> verify -> backup"),
        (["--after", "backup"], "cycle of jobs, backup -> backup"),
        (["--after", "backup:sometimes"], "'sometimes' is not success, failure or always"),
        (["--hook", "before=/bin/true"], "the command is a JSON list"),
        (["--hook", 'before=["true"]'], "must be an absolute path"),
        (["--hook", "nohook"], "give EVENT[:fail][:TIMEOUT]="),
        (["--hook", 'later=["/bin/true"]'], "unknown event 'later'"),
        (["--hook", 'after:5x=["/bin/true"]'], "timeout"),
    ],
)
def test_bad_hooks_and_links_exit_2_and_change_nothing(
    synchub_allowing_commands: Synchub, tmp_path: Path, args: list[str], message: str
) -> None:
    add_pair(synchub_allowing_commands, tmp_path)
    before = synchub_allowing_commands.json("job", "show", "backup")
    bad = synchub_allowing_commands("job", "edit", "backup", *args, check=False)
    assert bad.returncode == 2, bad.stderr
    assert message in bad.stderr
    after = synchub_allowing_commands.json("job", "show", "backup")
    assert {**after, "next_fires": None} == {**before, "next_fires": None}


def test_hooks_exit_2_where_command_jobs_are_off(synchub: Synchub, tmp_path: Path) -> None:
    bad = synchub(
        "job", "add", "backup", "--source", str(tmp_path), "--dest", str(tmp_path / "out"),
        "--hook", 'before=["/bin/true"]', check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "SYNCHUB_ALLOW_COMMAND_JOBS" in bad.stderr
    assert synchub.json("job", "list") == []


def test_a_webhook_is_set_without_command_jobs_and_its_url_never_shown(
    synchub: Synchub, tmp_path: Path
) -> None:
    from tests.integration.test_webhooks import TOKEN, Receiver

    receiver = Receiver()
    try:
        (tmp_path / "a.txt").write_text("a")
        synchub(
            "job", "add", "backup", "--source", str(tmp_path), "--dest", str(tmp_path / "out"),
            "--op", "copy", "--hook", f"after:fail:10s={receiver.url}",
        )  # fmt: skip
        shown = synchub("job", "show", "backup").stdout
        assert "hook after: POST http://127.0.0.1/… (timeout 10s, on error fail)" in shown
        done = synchub("job", "run", "backup", "--wait", check=False)
        assert done.returncode == 0, done.stderr
        assert [b["event"] for b in receiver.bodies] == ["after"]
        (run,) = synchub.json("runs", "list", "--job", "backup")
        outputs = [
            shown, done.stdout, done.stderr,
            synchub("runs", "logs", str(run["id"])).stdout,
            synchub("job", "show", "backup", "--json").stdout,
            synchub("export").stdout,
        ]  # fmt: skip
        assert not [text for text in outputs if TOKEN in text]
        assert "${SYNCHUB_SECRET_JOB_BACKUP_HOOK_AFTER_0}" in outputs[-1]
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
