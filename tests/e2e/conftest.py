"""Fixtures that run the real `synchub` command in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SYNCHUB = [sys.executable, "-m", "synchub"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


class Synchub:
    """The CLI and servers of one synchub home."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.servers: list[subprocess.Popen[bytes]] = []
        #: the umask of the processes started (-1: this process's)
        self.umask = -1

    def __call__(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*SYNCHUB, *args],
            env=self.env,
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
            umask=self.umask,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"synchub {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
            )
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def serve(self, *args: str) -> subprocess.Popen[bytes]:
        port = free_port()
        log = open(self.home / f"serve-{port}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [*SYNCHUB, "serve", "--port", str(port), *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=self.umask,
        )
        self.servers.append(proc)
        import urllib.request

        def healthy() -> bool:
            if proc.poll() is not None:
                log_text = (self.home / f"serve-{port}.log").read_text()
                pytest.fail(f"serve exited {proc.returncode}: {log_text}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait_for("the server to answer /healthz", healthy)
        return proc

    def stop_all(self) -> None:
        for proc in self.servers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.servers:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def new_synchub(tmp_path: Path) -> Synchub:
    """The CLI over a home in `tmp_path` that `synchub init` has not made yet."""
    home = tmp_path / "home"
    ours = ("SYNCHUB_", "DATABASE_URL", "CELERY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(
        {
            "SYNCHUB_HOME": str(home),
            "SYNCHUB_RUN_LEASE": "3",
            "SYNCHUB_SCHEDULER_LEASE": "3",
            "SYNCHUB_POLL_INTERVAL": "0.2",
            "SYNCHUB_SHUTDOWN_GRACE": "5",
            "SYNCHUB_DEFAULT_TZ": "UTC",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return Synchub(home, env)


@pytest.fixture
def synchub(tmp_path: Path) -> Iterator[Synchub]:
    """The CLI over a home that `synchub init` made; the servers it started stop at the end."""
    s = new_synchub(tmp_path)
    s("init")
    yield s
    s.stop_all()


def children_named(pid: int, name: str) -> list[int]:
    """Live processes named `name` whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            state = stat[stat.rindex(")") + 2 :].split()[0]
        except (OSError, ValueError):
            continue
        if ppid == pid and comm == name and state != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"
