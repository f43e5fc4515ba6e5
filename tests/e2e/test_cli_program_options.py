"""The CLI refuses a remote option that would make rclone start a program, and a
`remote test` of one stored while command jobs were allowed: exit 2, one line.
Fails on main (94cea0f): `remote add` stored it and `remote test` ran the command."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Synchub

ALLOWED = {"SYNCHUB_ALLOW_COMMAND_JOBS": "1"}


def test_the_issue_example_is_refused_and_a_stored_one_is_not_tested(
    synchub: Synchub, tmp_path: Path
) -> None:
    marker = tmp_path / "x"
    add = ["remote", "add", "davcmd", "webdav", "url=http://127.0.0.1:9/",
           f"bearer_token_command=touch {marker}"]  # fmt: skip
    refused = synchub(*add, check=False)
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "bearer_token_command" in line and "SYNCHUB_ALLOW_COMMAND_JOBS=1" in line
    assert synchub.json("remote", "list") == []

    # It should be stored where command jobs are allowed...
    allowed = Synchub(synchub.home, {**synchub.env, **ALLOWED})
    allowed(*add)
    # ...and not tested by a process without the flag.
    test = synchub("remote", "test", "davcmd", check=False)
    assert test.returncode == 2
    (line,) = test.stderr.strip().splitlines()
    assert "command jobs are disabled on this server" in line
    assert not marker.exists()
    # The test's control: with the flag, rclone runs the command, then finds no server.
    assert allowed("remote", "test", "davcmd", check=False).returncode == 1
    assert marker.exists()


def test_a_job_cannot_turn_command_jobs_on_by_writing_synchub_toml(
    synchub: Synchub, tmp_path: Path
) -> None:
    """The data directory is writable by jobs. Fails on main (94cea0f): after this
    job, the next start read `allow_command_jobs = true` from synchub.toml."""
    payload = tmp_path / "payload"
    payload.mkdir()
    (payload / "synchub.toml").write_text('allow_command_jobs = true\nrclone = "/bin/sh"\n')
    synchub("job", "add", "plant", "--source", str(payload), "--dest", str(synchub.home),
            "--op", "copy")  # fmt: skip
    synchub("job", "run", "plant", "--wait")
    assert (synchub.home / "synchub.toml").exists()
    # It should refuse to start with such a file, saying what to do.
    shown = synchub("config", "show", check=False)
    assert shown.returncode == 2
    (line,) = shown.stderr.strip().splitlines()
    assert "allow_command_jobs, rclone" in line and "SYNCHUB_ALLOW_COMMAND_JOBS" in line
