"""Real rclone runs against SFTP, WebDAV and S3 remotes served on loopback."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from synchub.engines.base import RemoteConfig
from synchub.engines.rclone.engine import RcloneEngine
from synchub.engines.rclone.probe import check_remote
from tests.integration.engines.helpers import (
    PASSWORD,
    SECRET_KEY,
    Server,
    make_ctx,
    s3_remote,
    sftp_remote,
    tree,
    webdav_remote,
    write,
)

ENGINE = RcloneEngine(kill_grace=5.0)


def run(params: dict[str, Any], remotes: list[RemoteConfig]) -> Any:
    by_name = {r.name: r for r in remotes}
    ctx = make_ctx(ENGINE.validate(params, frozenset(by_name)), by_name)
    return ENGINE.run(ctx), ctx.sink


def everything_logged(sink: Any) -> str:
    return repr(sink.logs) + repr(sink.files) + repr(sink.snapshots)


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return write(tmp_path / "src", {"a/x.txt": "hello", "y.txt": "world"})


@pytest.mark.parametrize("kind", ["sftp", "webdav", "s3"])
def test_sync_to_a_remote_and_back(
    kind: str, src: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server: Server = request.getfixturevalue(f"{kind}_server")
    remote = {"sftp": sftp_remote, "webdav": webdav_remote, "s3": s3_remote}[kind](server)
    folder = f"bucket/{tmp_path.name}" if kind == "s3" else tmp_path.name
    there = f"{remote.name}:{folder}"

    outcome, sink = run({"source": str(src), "destination": there}, [remote])
    assert outcome.ok, outcome.error
    assert sink.changes() == {("a/x.txt", "copied"), ("y.txt", "copied")}
    assert tree(server.root / folder) == {"a/x.txt": "hello", "y.txt": "world"}

    # It should report a replacement and a deletion on the remote side.
    (src / "y.txt").write_text("world, again")
    (src / "a" / "x.txt").unlink()
    outcome, sink = run({"source": str(src), "destination": there}, [remote])
    assert outcome.ok, outcome.error
    assert sink.changes() == {("y.txt", "replaced"), ("a/x.txt", "deleted")}
    assert outcome.stats.files == 1 and outcome.stats.deletes == 1

    # It should copy back from the remote.
    outcome, _ = run({"op": "copy", "source": there, "destination": str(tmp_path / "back")},
                     [remote])  # fmt: skip
    assert outcome.ok, outcome.error
    assert tree(tmp_path / "back") == {"y.txt": "world, again"}

    # The password never shows in the argv nor in anything reported.
    argv = ENGINE.argv({"source": str(src), "destination": there}, first_run=False)
    assert not any(PASSWORD in a or SECRET_KEY in a for a in argv)
    assert PASSWORD not in everything_logged(sink) and SECRET_KEY not in everything_logged(sink)


def test_a_wrong_password_fails_the_run_without_showing_it(
    sftp_server: Server, src: Path, tmp_path: Path
) -> None:
    remote = sftp_remote(sftp_server, password="wrong-Passw0rd")
    outcome, sink = run({"source": str(src), "destination": f"nas:{tmp_path.name}"}, [remote])
    assert (outcome.ok, outcome.exit_code, outcome.error_class) == (False, 1, "error")
    assert "unable to authenticate" in (outcome.error or "")
    assert "wrong-Passw0rd" not in everything_logged(sink)


def test_a_wrong_s3_secret_fails_the_run(s3_server: Server, src: Path, tmp_path: Path) -> None:
    remote = s3_remote(s3_server, secret="not-the-secret-key")
    outcome, _ = run({"source": str(src), "destination": f"objects:bucket/{tmp_path.name}"},
                     [remote])  # fmt: skip
    assert (outcome.ok, outcome.exit_code, outcome.error_class) == (False, 1, "error")
    # rclone reads the 403 on its first probe as "is a file not a directory".
    assert "Failed to create file system" in (outcome.error or "")


def test_a_crypt_remote_over_sftp_gets_both_remotes(
    sftp_server: Server, src: Path, tmp_path: Path
) -> None:
    nas = sftp_remote(sftp_server)
    vault = RemoteConfig("vault", "crypt", {"remote": f"nas:{tmp_path.name}", "password": "pw1"})
    outcome, sink = run({"source": str(src), "destination": "vault:"}, [nas, vault])
    assert outcome.ok, outcome.error
    stored = [p for p in (sftp_server.root / tmp_path.name).rglob("*") if p.is_file()]
    assert len(stored) == 2
    assert all(p.read_bytes().startswith(b"RCLONE\0\0") for p in stored)  # encrypted
    assert not {"x.txt", "y.txt"} & {p.name for p in stored}  # names too
    assert "pw1" not in everything_logged(sink)


@pytest.mark.parametrize("kind", ["sftp", "webdav", "s3"])
def test_checking_a_working_remote(kind: str, request: pytest.FixtureRequest) -> None:
    server: Server = request.getfixturevalue(f"{kind}_server")
    remote = {"sftp": sftp_remote, "webdav": webdav_remote, "s3": s3_remote}[kind](server)
    ok, message = check_remote(remote, timeout_s=10)
    assert ok, message
    assert message.startswith("ok: ")


def test_checking_a_remote_with_a_wrong_password(sftp_server: Server) -> None:
    ok, message = check_remote(sftp_remote(sftp_server, password="wrong-Passw0rd"), timeout_s=10)
    assert not ok
    assert "unable to authenticate" in message
    assert "wrong-Passw0rd" not in message


def test_checking_a_remote_nobody_listens_on() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    remote = RemoteConfig("gone", "webdav", {"url": f"http://127.0.0.1:{port}"})
    ok, message = check_remote(remote, timeout_s=5)
    assert not ok
    assert "connection refused" in message


def test_checking_a_remote_that_never_answers_gives_up_at_the_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections, never says a word
        port = silent.getsockname()[1]
        remote = RemoteConfig("mute", "webdav", {"url": f"http://127.0.0.1:{port}"})
        started = time.monotonic()
        ok, message = check_remote(remote, timeout_s=2, grace_s=1)
    assert not ok, message
    assert time.monotonic() - started < 6
