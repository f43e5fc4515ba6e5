"""A PostgreSQL cluster of the test's own, in a temporary directory on a free port, that
a test may stop and start at will: never the machine's shared server, which other
tests use at the same moment."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

#: the account that owns the cluster when the tests run as root (initdb refuses root)
OWNER = "postgres"


def find_bin(name: str) -> str | None:
    """`name` from the newest PostgreSQL on the machine, or on PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version)
    return found[-1] if found else shutil.which(name)


def _version(path: str) -> int:
    part = path.split("/")[4]
    return int(part) if part.isdigit() else 0


def missing() -> str | None:
    """Why a private cluster cannot be made here, or None."""
    for name in ("initdb", "pg_ctl"):
        if find_bin(name) is None:
            return f"{name} is not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(OWNER)
        except KeyError:
            return f"running as root and there is no {OWNER!r} account to run initdb as"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateCluster:
    """initdb'd at construction; `start`, `stop` (fast: open connections are cut, as a
    restart does) and `remove`."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="synchub-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", OWNER, "--"]
            owner = pwd.getpwnam(OWNER)
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self._run(
            find_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str, port: int | None = None) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port or self.port}/{dbname}"

    def start(self) -> None:
        # No fsync: the cluster lives for one test session; a fast stop still flushes.
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self._run(
            find_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def stop(self) -> None:
        self._run(find_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        status = [*self._as, str(find_bin("pg_ctl")), "-D", str(self.data), "status"]
        return subprocess.run(status, capture_output=True).returncode == 0

    def remove(self) -> None:
        if self.running():
            self._run(find_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def _run(self, program: str | None, *args: str) -> None:
        assert program is not None
        done = subprocess.run([*self._as, program, *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(program).name} {args[-1]} failed: {done.stderr[-2000:]}")
