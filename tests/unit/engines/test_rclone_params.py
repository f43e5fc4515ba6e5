"""An rclone job's parameters, its command line and its environment."""

from __future__ import annotations

from typing import Any

import pytest

from synchub.core.errors import EngineError, InvalidInput, InvalidOption, InvalidPath
from synchub.engines.base import RemoteConfig
from synchub.engines.obscure import reveal
from synchub.engines.rclone.engine import LOG_ARGS, RcloneEngine
from synchub.engines.rclone.environment import remote_env
from synchub.engines.rclone.params import normalize_filter, parse_location

KNOWN = frozenset({"nas", "s3", "my-nas.home"})


@pytest.fixture(scope="module")
def engine() -> RcloneEngine:
    return RcloneEngine(binary=None, kill_grace=5.0)


def valid(engine: RcloneEngine, **params: Any) -> dict[str, Any]:
    return engine.validate({"source": "/data/photos", "destination": "nas:backup", **params}, KNOWN)


def test_it_normalizes_a_full_job(engine: RcloneEngine) -> None:
    params = valid(
        engine,
        op="copy",
        filters=["include *.jpg", "- /tmp/**", "+ *.png "],
        options=["-c", "--transfers 8"],
    )
    assert params == {
        "op": "copy",
        "source": "/data/photos",
        "destination": "nas:backup",
        "filters": ["+ *.jpg", "- /tmp/**", "+ *.png"],
        "options": ["--checksum", "--transfers=8"],
    }
    assert engine.validate(params, KNOWN) == params  # normalised params validate unchanged


def test_op_defaults_to_sync(engine: RcloneEngine) -> None:
    assert valid(engine)["op"] == "sync"


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"op": "delete"}, InvalidInput, "Bad op 'delete'"),
        ({"source": "x:/a"}, InvalidPath, "unknown remote 'x' in 'x:/a'"),
        ({"source": "data/photos"}, InvalidPath, "use remote:path or an absolute local path"),
        ({"source": ""}, InvalidPath, "must not be empty"),
        ({"source": None}, InvalidPath, "must be a string"),
        ({"source": "/data/a\nb"}, InvalidPath, "line breaks"),
        ({"source": "/data/a\0b"}, InvalidPath, "NUL"),
        ({"source": ":s3,provider=AWS:bucket"}, InvalidPath, "remote defined in synchub"),
        ({"source": "nas,user=root:x"}, InvalidPath, "remote defined in synchub"),
        ({"destination": "/data/photos/"}, InvalidPath, "the same"),
        ({"source": "nas:backup/."}, InvalidPath, "the same"),
        ({"filters": "- *.tmp"}, InvalidInput, "must be a list of strings"),
        ({"filters": ["*.tmp"]}, InvalidOption, "Bad filter"),
        ({"filters": ["- {a,b"]}, InvalidOption, "Bad filter: mismatched '{' and '}'"),
        ({"filters": ["+ ***"]}, InvalidOption, "too many stars"),
        ({"options": ["--config=/x"]}, InvalidOption, "--config is not allowed"),
        ({"options": ["--one-way"]}, InvalidOption, "applies to check only"),
        ({"dest": "nas:x"}, InvalidInput, "Unknown parameter 'dest'"),
    ],
)
def test_it_refuses_bad_parameters(
    engine: RcloneEngine, params: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        valid(engine, **params)


def test_op_specific_options_are_checked_against_the_op(engine: RcloneEngine) -> None:
    assert valid(engine, op="check", options=["--one-way"])["options"] == ["--one-way"]


@pytest.mark.parametrize(
    ("text", "remote", "path"),
    [
        ("/abs/path", None, "/abs/path"),
        ("/a:b/c", None, "/a:b/c"),  # rclone reads this as local too
        ("/a/../b/", None, "/b"),
        ("nas:", "nas", ""),
        ("nas:/abs", "nas", "/abs"),
        ("my-nas.home:dir with spaces", "my-nas.home", "dir with spaces"),
    ],
)
def test_locations(text: str, remote: str | None, path: str) -> None:
    location = parse_location(text)
    assert (location.remote, location.path) == (remote, path)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("+ *.jpg", "+ *.jpg"),
        ("-   /tmp/** ", "- /tmp/**"),
        ("include *.jpg", "+ *.jpg"),
        ("EXCLUDE .git/", "- .git/"),
        ("!", "!"),
    ],
)
def test_filters_take_rclones_form(rule: str, expected: str) -> None:
    assert normalize_filter(rule) == expected


def test_remotes_used_are_named_in_source_and_destination(engine: RcloneEngine) -> None:
    assert engine.remotes_used({"source": "/a", "destination": "nas:b"}) == {"nas"}
    assert engine.remotes_used({"source": "s3:x", "destination": "nas:b"}) == {"nas", "s3"}
    assert engine.remotes_used({"source": "/a", "destination": "/b"}) == frozenset()


def test_the_command_line(engine: RcloneEngine) -> None:
    params = valid(engine, filters=["- *.tmp"], options=["--transfers=2"])
    argv = engine.argv(params, first_run=False)
    assert argv[0].endswith("rclone")
    assert argv[1:] == ["sync", "/data/photos", "nas:backup", "--filter=- *.tmp",
                        "--transfers=2", *LOG_ARGS]  # fmt: skip


def test_bisync_resyncs_on_its_first_run_only(engine: RcloneEngine) -> None:
    params = valid(engine, op="bisync")
    assert engine.argv(params, first_run=True)[-1] == "--resync"
    assert "--resync" not in engine.argv(params, first_run=False)


def test_a_job_timeout_becomes_max_duration_a_little_earlier(engine: RcloneEngine) -> None:
    params = valid(engine)
    assert engine.argv(params, first_run=False, timeout_s=3600)[-1] == "--max-duration=3540s"
    assert engine.argv(params, first_run=False, timeout_s=60)[-1] == "--max-duration=57s"
    # too short to leave a margin; the runner's deadline alone
    assert not any("max-duration" in a for a in engine.argv(params, first_run=False, timeout_s=5))


def test_max_duration_is_not_added_over_the_users_own_nor_to_check(engine: RcloneEngine) -> None:
    own = valid(engine, options=["--max-duration=1h"])
    argv = engine.argv(own, first_run=False, timeout_s=600)
    assert [a for a in argv if "max-duration" in a] == ["--max-duration=1h"]
    check = valid(engine, op="check")
    assert not any("max-duration" in a for a in engine.argv(check, first_run=False, timeout_s=600))


def test_remotes_reach_rclone_as_environment_with_passwords_obscured() -> None:
    env = remote_env(
        {
            "nas": RemoteConfig("nas", "sftp", {"host": "h", "user": "u", "pass": "pw"}),
            "my-nas.home": RemoteConfig("my-nas.home", "s3", {"secret_access_key": "sk"}),
        }
    )
    assert env["RCLONE_CONFIG_NAS_TYPE"] == "sftp"
    assert env["RCLONE_CONFIG_NAS_HOST"] == "h"
    assert env["RCLONE_CONFIG_NAS_PASS"] != "pw"
    assert reveal(env["RCLONE_CONFIG_NAS_PASS"]) == "pw"
    # rclone upper-cases the remote name as it is, "-" and "." included
    assert env["RCLONE_CONFIG_MY-NAS.HOME_TYPE"] == "s3"
    assert env["RCLONE_CONFIG_MY-NAS.HOME_SECRET_ACCESS_KEY"] == "sk"  # s3 keys are not obscured


def test_remotes_whose_names_differ_only_in_case_cannot_share_a_run() -> None:
    remotes = {"nas": RemoteConfig("nas", "local"), "NAS": RemoteConfig("NAS", "local")}
    with pytest.raises(EngineError, match="differ only in case") as caught:
        remote_env(remotes)
    assert caught.value.permanent
