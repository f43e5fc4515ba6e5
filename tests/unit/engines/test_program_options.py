"""Options that make rclone start a program on this machine: all of them known.

rclone's own metadata (`rclone config providers`, with each option's help) is
walked for the pinned rclone, so that an upgrade which adds such an option fails
here until it is classified: refused (PROGRAM_OPTIONS) or reviewed as harmless
(REVIEWED_OPTIONS), each with its reason.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from typing import Any

import pytest

from synchub.core.errors import EngineError
from synchub.engines.base import RemoteConfig
from synchub.engines.process import minimal_env
from synchub.engines.rclone.backends import (
    PROGRAM_OPTIONS,
    REVIEWED_OPTIONS,
    program_options,
    rclone_binary,
    referenced_remotes,
)
from synchub.engines.rclone.environment import rclone_env

#: Words in an option's name or help that may mean "starts a program".
RUNS_SOMETHING = re.compile(
    r"\b(command|commands|program|programs|exec\w*|run|runs|running|shell|script|scripts"
    r"|binary|binaries|process|processes|cli|tool|tools|spawn\w*|invok\w*|launch\w*"
    r"|external|credential_process)\b",
    re.IGNORECASE,
)


@functools.cache
def providers() -> list[dict[str, Any]]:
    done = subprocess.run(
        [rclone_binary(), "config", "providers"],
        env=minimal_env({"RCLONE_CONFIG": ""}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    items: list[dict[str, Any]] = json.loads(done.stdout)
    return items


def every_option() -> dict[tuple[str, str], dict[str, Any]]:
    return {(b["Name"], o["Name"]): o for b in providers() for o in b.get("Options") or ()}


def test_every_option_that_speaks_of_running_something_is_classified() -> None:
    unclassified = [
        f"{backend}.{name}: {str(option.get('Help', '')).splitlines()[0]}"
        for (backend, name), option in sorted(every_option().items())
        if RUNS_SOMETHING.search(name.replace("_", " ") + "\n" + str(option.get("Help", "")))
        and (backend, name) not in PROGRAM_OPTIONS
        and (backend, name) not in REVIEWED_OPTIONS
    ]
    assert not unclassified, (
        "rclone options that may start a program here: add each to PROGRAM_OPTIONS "
        "(refused) or REVIEWED_OPTIONS (with why it starts none) in "
        "synchub/engines/rclone/backends.py:\n" + "\n".join(unclassified)
    )


def test_every_classified_option_exists_in_the_pinned_rclone() -> None:
    known = every_option()
    stale = sorted(set(PROGRAM_OPTIONS) | set(REVIEWED_OPTIONS))
    assert [key for key in stale if key not in known] == []
    assert not set(PROGRAM_OPTIONS) & set(REVIEWED_OPTIONS)


def test_the_known_program_starters_are_refused() -> None:
    assert {("webdav", "bearer_token_command"), ("sftp", "ssh")} <= set(PROGRAM_OPTIONS)
    assert ("sftp", "server_command") in REVIEWED_OPTIONS  # it runs on the server


def test_no_option_of_one_remote_can_spell_a_program_option_of_another() -> None:
    # rclone reads option OPT of remote NAME from RCLONE_CONFIG_NAME_OPT. Were
    # "command" an option of some backend, a remote named "dav_bearer_token" could set
    # bearer_token_command of a remote "dav". The engine refuses such runs (below);
    # this lists which pairs exist today: only swift's `auth`.
    names = {name.upper() for _, name in every_option()}
    spelled = {
        "_".join(parts[i:]): option
        for (_, option) in PROGRAM_OPTIONS
        for parts in [option.upper().split("_")]
        for i in range(1, len(parts))
        if "_".join(parts[i:]) in names
    }
    assert spelled == {"AUTH": "env_auth"}


def test_the_options_that_name_other_remotes_are_the_ones_synchub_reads() -> None:
    # Connection strings are looked for in these options only.
    holders = {
        name
        for (backend, name), option in every_option().items()
        if re.match(r"(Remote|Upstreams|List of space separated upstreams)\b", option["Help"])
    }
    assert holders == {"remote", "upstreams"}
    assert referenced_remotes({"remote": "nas:x", "upstreams": "a:/b c:"}) == {"nas", "a", "c"}


@pytest.mark.parametrize(
    ("type_", "options", "refused"),
    [
        # a command for a bearer token, any value
        ("webdav", {"url": "http://h/", "bearer_token_command": "touch /tmp/x"}, True),
        ("webdav", {"url": "http://h/", "bearer_token": "t"}, False),
        # spelled as rclone's environment would read it (a row stored unvalidated)
        ("webdav", {"url": "http://h/", "BEARER-TOKEN-COMMAND": "id"}, True),
        # an external ssh program; the SFTP server's own commands are fine
        ("sftp", {"host": "h", "ssh": "sh -c 'touch /tmp/x'"}, True),
        ("sftp", {"host": "h", "server_command": "sudo sftp-server"}, False),
        ("sftp", {"host": "h", "md5sum_command": "md5sum"}, False),
        # bools count when true, in every spelling rclone takes
        ("azureblob", {"account": "a", "use_az": "true"}, True),
        ("azureblob", {"account": "a", "use_az": "T"}, True),
        ("azureblob", {"account": "a", "use_az": "false"}, False),
        ("azureblob", {"account": "a", "env_auth": "1"}, True),
        ("azureblob", {"account": "a", "use_msi": "true"}, False),
        ("azurefiles", {"account": "a", "env_auth": "True"}, True),
        # a credentials file names the program the AWS SDK runs
        ("s3", {"provider": "AWS", "shared_credentials_file": "/tmp/c"}, True),
        ("s3", {"provider": "AWS", "env_auth": "true"}, False),
        # a connection string in a reference, at any depth, quoted or not
        ("alias", {"remote": ":webdav,url='http://h/',bearer_token_command='touch x':"}, True),
        ("alias", {"remote": ":alias,remote=':sftp,host=h,ssh=\"sh\":':"}, True),
        ("crypt", {"remote": "nas,ssh='sh -c x':dir", "password": "p"}, True),
        ("union", {"upstreams": '/a ":azureblob,account=a,use_az:"'}, True),
        ("combine", {"upstreams": "x=:s3,env_auth,shared_credentials_file=/c:b"}, True),
        # ...but not a plain reference, nor a path that only mentions a name
        ("alias", {"remote": "nas:backups/ssh"}, False),
        ("alias", {"remote": ":sftp,host=ssh.example.com:"}, False),
    ],
)
def test_program_options_finds_what_would_start_a_program(
    type_: str, options: dict[str, str], refused: bool
) -> None:
    assert bool(program_options(type_, options)) is refused


def test_rclone_gets_no_option_or_credential_variable_from_the_servers_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each could make rclone, or an SDK in it, start a program: a bearer-token
    # command, an AWS config naming a credential_process, Google's executables.
    for name in (
        "RCLONE_WEBDAV_BEARER_TOKEN_COMMAND",
        "RCLONE_SFTP_SSH",
        "RCLONE_PASSWORD_COMMAND",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AZURE_CLIENT_ID",
        "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        monkeypatch.setenv(name, "x")
    env = rclone_env({})
    ours = {k: v for k, v in env.items() if k.startswith(("RCLONE_", "AWS_", "AZURE_", "GOOGLE_"))}
    # no config file, and (command jobs being off) no AWS file either
    assert ours == {
        "RCLONE_CONFIG": "",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    assert "AWS_CONFIG_FILE" not in rclone_env({}, allow_programs=True)


def test_a_run_whose_remotes_would_set_each_others_options_is_refused() -> None:
    az = RemoteConfig("az", "azureblob", {"account": "a", "key": "a2V5"})
    # RCLONE_CONFIG_AZ_ENV_AUTH=true: swift's `auth` of "az_env", env_auth of "az"
    az_env = RemoteConfig("az_env", "swift", {"auth": "true"})
    with pytest.raises(EngineError, match="'az' would get option 'env_auth'"):
        rclone_env({"az": az, "az_env": az_env})
    # Names that only share a start are fine while no option lands on the other.
    nas = RemoteConfig("nas", "sftp", {"host": "h"})
    nas_old = RemoteConfig("nas_old", "sftp", {"host": "h2"})
    assert rclone_env({"nas": nas, "nas_old": nas_old})["RCLONE_CONFIG_NAS_OLD_HOST"] == "h2"
