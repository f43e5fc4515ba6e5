"""The read commands ask a running server through its local socket, and print what
they would print reading the database themselves; the socket only reads, is its
owner's alone, and nothing else is taken for it."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import synchub
from tests.e2e.conftest import Synchub, new_synchub
from tests.unit.test_cli_imports import modules_after

pytestmark = pytest.mark.slow

LISTINGS = [
    ("job", "list"),
    ("job", "list", "--json"),
    ("runs", "list"),
    ("runs", "list", "--json"),
    ("runs", "list", "--job", "photos", "--state", "succeeded,failed", "--limit", "1"),
    ("runs", "list", "--limit", "2", "--json"),
]


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Iterator[Synchub]:
    """The CLI over a fresh database of each kind, with jobs and runs to list."""
    cli = new_synchub(tmp_path)
    cli.env["SYNCHUB_DATABASE_URL"] = db_url
    cli("init")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("alpha")
    for name in ("photos", "music"):
        cli("job", "add", name, "--source", str(src), "--dest", str(tmp_path / name),
            "--every", "1d")  # fmt: skip
    cli("job", "add", "notes", "--source", str(tmp_path / "gone"), "--dest", str(tmp_path / "n"))
    cli("job", "disable", "music")
    cli("job", "run", "photos", "--wait")
    cli("job", "run", "photos", "--wait", "--dry-run")
    cli("job", "run", "notes", "--wait", check=False)  # fails: no source
    yield cli
    cli.stop_all()


def direct(cli: Synchub, *argv: str) -> subprocess.CompletedProcess[str]:
    saved = dict(cli.env)
    cli.env["SYNCHUB_NO_SOCKET"] = "1"
    try:
        return cli(*argv, check=False)
    finally:
        cli.env = saved


def server_log(cli: Synchub) -> str:
    return "".join(p.read_text() for p in cli.home.glob("serve-*.log"))


def local_get(home: Path, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """A request on the socket, as any program of the owner may send it."""
    connection = http.client.HTTPConnection("localhost", timeout=10)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(home / "serve.sock"))
    connection.sock = sock
    body = b"{}" if method in ("POST", "PATCH") else None
    connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
    answer = connection.getresponse()
    shown = answer.status, dict(answer.headers), answer.read()
    connection.close()
    return shown


def test_the_listings_print_the_same_through_the_socket_as_read_directly(cli: Synchub) -> None:
    read = {argv: direct(cli, *argv) for argv in LISTINGS}
    cli.serve("--no-scheduler")
    for argv in LISTINGS:
        asked = cli(*argv)
        assert (asked.stdout, asked.stderr) == (read[argv].stdout, read[argv].stderr), argv
        assert direct(cli, *argv).stdout == read[argv].stdout  # nothing changed meanwhile
    # It should really have asked the server, with the options as the API's parameters.
    log = server_log(cli)
    assert "GET /api/v1/jobs?limit=1000 " in log
    assert "GET /api/v1/runs?job=photos&state=succeeded%2Cfailed&limit=1 " in log
    listed = json.loads(cli("job", "list", "--json").stdout)
    assert [j["name"] for j in listed] == ["music", "notes", "photos"]
    assert listed[2]["last_run"]["dry_run"] is True
    # What the server refuses (no such job) is said as the database says it.
    unknown = cli("runs", "list", "--job", "nosuch", check=False)
    assert unknown.returncode == 3 and "nosuch" in unknown.stderr


def test_a_listing_through_the_socket_imports_no_database_layer(cli: Synchub) -> None:
    cli.serve("--no-scheduler")
    for argv in (("job", "list"), ("runs", "list", "--job", "photos")):
        code, shown, modules = modules_after(*argv, home=str(cli.home), **_db(cli))
        assert code == 0, shown
        assert "photos" in shown
        tops = {m.split(".")[0] for m in modules}
        assert not tops & {"sqlalchemy", "pydantic_settings", "pydantic", "httpx"}, sorted(tops)


def _db(cli: Synchub) -> dict[str, str]:
    return {"SYNCHUB_DATABASE_URL": cli.env["SYNCHUB_DATABASE_URL"]}


def test_the_socket_only_reads_and_is_its_owners_alone(cli: Synchub) -> None:
    cli.serve("--no-scheduler")
    sock = cli.home / "serve.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    code, headers, body = local_get(cli.home, "GET", "/api/v1/jobs/photos")
    assert code == 200 and json.loads(body)["name"] == "photos"  # no token needed
    assert headers["x-synchub-version"] == synchub.__version__
    for method, path in [
        ("POST", "/api/v1/jobs/photos/run"),
        ("POST", "/api/v1/jobs/photos/disable"),
        ("PATCH", "/api/v1/jobs/photos"),
        ("DELETE", "/api/v1/jobs/photos"),
        ("POST", "/api/v1/tokens"),
    ]:
        code, _, body = local_get(cli.home, method, path)
        assert code == 403, (method, path, body)
        assert "only reads" in json.loads(body)["detail"]
    assert direct(cli, "job", "list", "--json").stdout == cli("job", "list", "--json").stdout
    (photos,) = [j for j in cli.json("job", "list") if j["name"] == "photos"]
    assert photos["enabled"] and len(cli.json("runs", "list", "--job", "photos")) == 2


def test_over_tcp_a_request_without_a_token_is_refused_as_ever(cli: Synchub) -> None:
    cli.serve("--no-scheduler")
    (log,) = cli.home.glob("serve-*.log")
    port = log.stem.removeprefix("serve-")
    for headers in ({}, {"Host": "localhost"}, {"X-Forwarded-For": "unix:"}):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/jobs", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401


def test_a_socket_left_by_a_killed_server_is_replaced(cli: Synchub) -> None:
    expected = direct(cli, "job", "list").stdout
    server = cli.serve("--no-scheduler")
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    assert (cli.home / "serve.sock").exists()  # left behind, answering nobody
    assert cli("job", "list").stdout == expected  # read directly
    second = cli.serve("--no-scheduler")
    assert cli("job", "list").stdout == expected
    assert server_log(cli).count("GET /api/v1/jobs?limit=1000 ") == 1  # the second one
    os.killpg(second.pid, signal.SIGTERM)
    second.wait(timeout=30)
    assert not (cli.home / "serve.sock").exists()  # a clean stop takes it away


def test_a_second_server_on_the_same_data_directory_leaves_the_socket_alone(
    cli: Synchub,
) -> None:
    cli.serve("--no-scheduler")
    first = (cli.home / "serve.sock").stat().st_ino
    second = cli.serve("--no-scheduler")
    assert "another server uses this data directory" in server_log(cli)
    os.killpg(second.pid, signal.SIGTERM)
    second.wait(timeout=30)
    assert (cli.home / "serve.sock").stat().st_ino == first
    assert cli("job", "list").stdout == direct(cli, "job", "list").stdout


def test_a_server_of_another_version_is_not_asked(cli: Synchub, tmp_path: Path) -> None:
    other = tmp_path / "other-version"
    shutil.copytree(Path(synchub.__file__).parent, other / "synchub")
    init = other / "synchub" / "__init__.py"
    init.write_text(init.read_text().replace(synchub.__version__, "0.0.1-other"))
    # Its copy first on the path: not this tree, which `python -m` puts there.
    cli.env.update(PYTHONPATH=str(other), PYTHONSAFEPATH="1")
    cli.serve("--no-scheduler")
    del cli.env["PYTHONPATH"], cli.env["PYTHONSAFEPATH"]
    assert local_get(cli.home, "GET", "/healthz")[1]["x-synchub-version"] == "0.0.1-other"
    for argv in LISTINGS:
        assert cli(*argv).stdout == direct(cli, *argv).stdout
    assert "GET /api/v1/jobs?limit=1000 " in server_log(cli)  # asked, and not believed


def test_a_command_set_to_another_database_reads_that_one(cli: Synchub, tmp_path: Path) -> None:
    cli.serve("--no-scheduler")
    assert len(cli.json("job", "list")) == 3
    cli.env["SYNCHUB_DATABASE_URL"] = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    cli("db", "upgrade")
    assert cli.json("job", "list") == [] and cli.json("runs", "list") == []
