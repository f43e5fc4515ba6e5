"""No program runs on this machine unless command jobs are allowed: not through a
remote option that makes rclone start one (a bearer-token command, an external ssh,
the Azure CLI, an AWS credential_process...), nor through a command job run by a
process whose settings do not allow them. Real rclone; a marker file says whether
the program ran.

Each test marked "fails on main" was run against main's code (94cea0f) and failed
there: the remote was stored, tested or run, and the marker appeared.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import CommandsDisabled, InvalidInput
from synchub.engines.rclone.backends import rclone_binary
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from synchub.store import audit
from synchub.store.db import transaction
from tests.support.harness import Harness

NOWHERE = "http://127.0.0.1:9/"  # the discard port: nothing answers


def toucher(marker: Path) -> str:
    """A command line that makes `marker` (no spaces: fits in rclone's lists)."""
    script = marker.parent / f"make-{marker.name}.sh"
    script.write_text(f"#!/bin/sh\ntouch '{marker}'\n")
    script.chmod(0o755)
    return str(script)


def davcmd(marker: Path) -> dict[str, str]:
    return {"url": NOWHERE, "bearer_token_command": f"touch {marker}"}


def run_once(svc: Services, clock: FakeClock, job: str) -> RunView:
    run_id = svc.runs.request(job)
    Harness(svc, clock).step()
    return svc.runs.show(run_id)


def audited(svc: Services) -> list[str]:
    with transaction(svc.sessions) as session:
        return [e.action for e in audit.recent(session)]


# -- defining remotes ---------------------------------------------------------------


def program_remotes(marker: Path) -> list[tuple[str, dict[str, str], str]]:
    """(type, options, the option named in the refusal), one per way in."""
    return [
        ("webdav", davcmd(marker), "bearer_token_command"),
        ("sftp", {"host": "127.0.0.1", "ssh": f"sh -c 'touch {marker}'"}, "ssh"),
        ("azureblob", {"account": "a", "use_az": "true"}, "use_az"),
        ("s3", {"provider": "AWS", "shared_credentials_file": str(marker)}, "shared_cred"),
        # wrapping remotes holding an on-the-fly remote, or an override of a named one
        ("alias", {"remote": f":webdav,url='{NOWHERE}',bearer_token_command='touch x':"}, "remote"),
        ("crypt", {"remote": "nas,ssh='sh -c x':dir", "password": "pw"}, "remote"),
        ("union", {"upstreams": f"/tmp :webdav,url={NOWHERE},bearer_token_command=x:"}, "upstr"),
    ]


def test_a_remote_that_would_start_a_program_is_refused_and_nothing_is_stored(
    svc: Services, tmp_path: Path
) -> None:
    """Fails on main: every one of these was stored."""
    for type_, options, named in program_remotes(tmp_path / "ran"):
        with pytest.raises(CommandsDisabled) as refused:
            svc.remotes.add("r", type_, options)
        assert named in refused.value.message
        assert "SYNCHUB_ALLOW_COMMAND_JOBS=1" in refused.value.message
    assert svc.remotes.list() == []
    assert audited(svc) == []


def test_an_edit_that_adds_one_is_refused_and_changes_nothing(svc: Services) -> None:
    """Fails on main: the edit went through."""
    svc.remotes.add("dav", "webdav", {"url": NOWHERE})
    before = svc.remotes.show("dav")
    with pytest.raises(CommandsDisabled, match="bearer_token_command"):
        svc.remotes.edit("dav", {"bearer_token_command": "id"})
    assert svc.remotes.show("dav") == before
    assert audited(svc) == ["remote.add"]


def test_an_import_holding_one_is_refused_whole(svc: Services) -> None:
    """Fails on main: both remotes were imported."""
    conf = (
        f"[ok]\ntype = local\n\n[dav]\ntype = webdav\nurl = {NOWHERE}\nbearer_token_command = id\n"
    )
    with pytest.raises(CommandsDisabled, match="remote 'dav'"):
        svc.remotes.import_text(conf)
    assert svc.remotes.list() == []


def test_where_command_jobs_are_allowed_the_admin_may_define_and_test_one(
    svc_allowing_commands: Services, tmp_path: Path
) -> None:
    """The other side: with the flag, such a remote is the admin's to use."""
    marker = tmp_path / "ran"
    svc_allowing_commands.remotes.add("davcmd", "webdav", davcmd(marker))
    ok, _ = svc_allowing_commands.remotes.test("davcmd")
    assert not ok  # nothing answers at NOWHERE...
    assert marker.exists()  # ...but rclone ran the command first


# -- remotes that already exist -------------------------------------------------------


def test_a_stored_one_is_not_tested_by_a_server_without_the_flag(
    svc: Services, svc_allowing_commands: Services, tmp_path: Path
) -> None:
    """Fails on main: `remote test` ran the command."""
    marker = tmp_path / "ran"
    svc_allowing_commands.remotes.add("davcmd", "webdav", davcmd(marker))
    with pytest.raises(CommandsDisabled, match="bearer_token_command"):
        svc.remotes.test("davcmd")
    assert not marker.exists()


def test_without_the_flag_a_stored_one_can_still_be_repaired_or_removed(
    svc: Services, svc_allowing_commands: Services, tmp_path: Path
) -> None:
    svc_allowing_commands.remotes.add("davcmd", "webdav", davcmd(tmp_path / "ran"))
    svc_allowing_commands.remotes.add("other", "sftp", {"host": "h", "ssh": "ssh h"})
    # An edit that keeps the option is refused; one that drops it goes through.
    with pytest.raises(CommandsDisabled):
        svc.remotes.edit("davcmd", {"url": "http://127.0.0.1:10/"})
    view = svc.remotes.edit("davcmd", {"bearer_token_command": None})
    assert "bearer_token_command" not in view.options
    svc.remotes.remove("other")
    assert [r.name for r in svc.remotes.list()] == ["davcmd"]


def test_a_run_of_a_stored_one_fails_without_starting_it(
    svc: Services, svc_allowing_commands: Services, clock: FakeClock, tmp_path: Path
) -> None:
    """Fails on main: the run started rclone, which ran the command."""
    marker = tmp_path / "ran"
    svc_allowing_commands.remotes.add("davcmd", "webdav", davcmd(marker))
    # a wrapping remote that names it, and one that holds such a remote itself
    svc_allowing_commands.remotes.add("wrap", "alias", {"remote": "davcmd:sub"})
    inline = f":webdav,url='{NOWHERE}',bearer_token_command='{toucher(marker)}':"
    svc_allowing_commands.remotes.add("inline", "alias", {"remote": inline})
    for source in ("davcmd:", "wrap:", "inline:"):
        job = f"from-{source.rstrip(':')}"
        svc.jobs.add(job, JobFields(params={"source": source, "destination": str(tmp_path)}))
        run = run_once(svc, clock, job)
        assert run.state == "failed"
        assert run.error_class == "config"
        assert "command jobs are disabled on this server" in str(run.error)
        assert run.celery_state == "FAILURE"  # not RETRY: a retry cannot help
    assert not marker.exists()


def test_measuring_a_stored_one_fails_without_starting_it(
    svc: Services, svc_allowing_commands: Services, tmp_path: Path
) -> None:
    """Fails on main: `rclone size` ran the command."""
    marker = tmp_path / "ran"
    svc_allowing_commands.remotes.add("davcmd", "webdav", davcmd(marker))
    svc.sizes.refresh()
    assert svc.sizes.wait(30)
    (figures,) = svc.sizes.figures()
    assert figures.state == "failed"
    assert "command jobs are disabled" in figures.error
    assert not marker.exists()


# -- other ways to reach rclone's options ---------------------------------------------


def test_the_servers_environment_never_gives_rclone_a_program(
    svc: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rclone reads RCLONE_WEBDAV_BEARER_TOKEN_COMMAND for every webdav remote; a run's
    rclone gets only PATH, HOME and the like from the server's environment."""
    marker = tmp_path / "ran"
    variable = {"RCLONE_WEBDAV_BEARER_TOKEN_COMMAND": toucher(marker)}
    # It should run the command when rclone gets the variable (the test's control)...
    subprocess.run(
        [rclone_binary(), "lsf", f":webdav,url='{NOWHERE}':", "--retries", "1"],
        env={**os.environ, **variable, "RCLONE_CONFIG": ""},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert marker.exists()
    marker.unlink()
    # ...and synchub's rclone never gets it.
    monkeypatch.setenv("RCLONE_WEBDAV_BEARER_TOKEN_COMMAND", toucher(marker))
    svc.remotes.add("dav", "webdav", {"url": NOWHERE})
    ok, _ = svc.remotes.test("dav")
    assert not ok and not marker.exists()


def test_an_s3_remote_reading_the_servers_aws_files_runs_no_credential_process(
    svc: Services, svc_allowing_commands: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job can write ~/.aws/config of the synchub user, where `credential_process`
    names a program for env_auth to run. Fails on main: the program ran."""
    marker = tmp_path / "ran"
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(f"[default]\ncredential_process = {toucher(marker)}\n")
    monkeypatch.setenv("HOME", str(home))
    options = {"provider": "AWS", "env_auth": "true", "endpoint": NOWHERE}
    svc.remotes.add("s3env", "s3", options)
    ok, _ = svc.remotes.test("s3env")
    assert not ok and not marker.exists()
    # It should run it where command jobs are allowed (the test's control).
    ok, _ = svc_allowing_commands.remotes.test("s3env")
    assert not ok and marker.exists()


def test_one_remote_cannot_set_options_of_another_through_its_name(
    svc: Services, clock: FakeClock, tmp_path: Path
) -> None:
    """A swift remote "az_env" with `auth` would give RCLONE_CONFIG_AZ_ENV_AUTH: the
    env_auth of the azureblob remote "az" (which may run the Azure CLI). Fails on main:
    rclone got both remotes' variables."""
    svc.remotes.add("az", "azureblob", {"account": "a", "key": "a2V5"})
    svc.remotes.add("az_env", "swift", {"auth": "true"})
    svc.jobs.add("mix", JobFields(params={"source": "az_env:c", "destination": "az:c"}))
    run = run_once(svc, clock, "mix")
    assert run.state == "failed"
    assert "would get option 'env_auth' from another remote" in str(run.error)


def test_a_connection_string_after_a_remotes_colon_is_only_a_path(
    svc: Services, clock: FakeClock, tmp_path: Path
) -> None:
    """What the console's folder form makes of `origin` + `remotePath` ("dav:" +
    ":webdav,...:"): rclone reads the remote's name up to the first colon, the rest
    is a path on it. Passes on main too: it guards that reading."""
    marker = tmp_path / "ran"
    svc.remotes.add("dav", "webdav", {"url": NOWHERE})
    sneaky = f"dav::webdav,url='{NOWHERE}',bearer_token_command='{toucher(marker)}':x"
    svc.jobs.add("j", JobFields(params={"source": str(tmp_path), "destination": sneaky}))
    assert run_once(svc, clock, "j").state == "failed"  # nothing answers at NOWHERE
    assert not marker.exists()


@pytest.mark.parametrize(
    "params",
    [
        {"source": f":webdav,url='{NOWHERE}',bearer_token_command='touch x':", "destination": "/d"},
        {"source": "dav,bearer_token_command='touch x':p", "destination": "/d"},
        {"source": "/s", "destination": "dav,ssh='sh -c x':p"},
        {"source": "/s", "destination": "/d", "options": ["--webdav-bearer-token-command=id"]},
        {"source": "/s", "destination": "/d", "options": ["--sftp-ssh", "sh"]},
        {"source": "/s", "destination": "/d", "options": ["--password-command=id"]},
    ],
)
def test_a_job_cannot_reach_those_options_through_its_paths_or_flags(
    svc: Services, params: dict[str, object]
) -> None:
    """Connection strings in a job's paths and backend flags are refused (as on main)."""
    svc.remotes.add("dav", "webdav", {"url": NOWHERE})
    with pytest.raises(InvalidInput):
        svc.jobs.add("j", JobFields(params=params))
    assert svc.jobs.list() == []
