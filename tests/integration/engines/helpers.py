"""Helpers for engine integration tests: run contexts, file trees, served remotes."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from synchub.engines.base import RemoteConfig, RunContext
from synchub.engines.rclone.backends import rclone_binary
from tests.unit.engines.fakes import RecordingSink

USER, PASSWORD = "synchub", "s3cret-Pa55"
ACCESS_KEY, SECRET_KEY = "synchubaccesskey", "synchubsecretkey123"


def make_ctx(
    params: dict[str, Any],
    remotes: dict[str, RemoteConfig] | None = None,
    *,
    first_run: bool = False,
    timeout_s: int | None = None,
) -> RunContext:
    return RunContext(
        run_id=1,
        job_name="job",
        params=params,
        attempt=1,
        first_run=first_run,
        remotes=remotes or {},
        sink=RecordingSink(),
        timeout_s=timeout_s,
    )


def write(root: Path, files: dict[str, str]) -> Path:
    """Create `files` (relative path -> content) under `root`; return `root`."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    root.mkdir(parents=True, exist_ok=True)
    return root


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Server:
    root: Path
    port: int
    proc: subprocess.Popen[bytes]


def serve(kind: str, root: Path, args: list[str], log: Path) -> Iterator[Server]:
    root.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    argv = [rclone_binary(), "serve", kind, str(root), "--addr", f"127.0.0.1:{port}", *args]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root.parent), "RCLONE_CONFIG": ""}
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 15
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rclone serve {kind} did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        yield Server(root, port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sftp_remote(server: Server, name: str = "nas", password: str = PASSWORD) -> RemoteConfig:
    return RemoteConfig(
        name,
        "sftp",
        {
            "host": "127.0.0.1",
            "port": str(server.port),
            "user": USER,
            "pass": password,
            "known_hosts_file": "none",  # the test server's key is new each session
        },
    )


def webdav_remote(server: Server, name: str = "dav") -> RemoteConfig:
    options = {"url": f"http://127.0.0.1:{server.port}", "vendor": "rclone", "user": USER,
               "pass": PASSWORD}  # fmt: skip
    return RemoteConfig(name, "webdav", options)


def s3_remote(server: Server, name: str = "objects", secret: str = SECRET_KEY) -> RemoteConfig:
    options = {"provider": "Rclone", "endpoint": f"http://127.0.0.1:{server.port}",
               "access_key_id": ACCESS_KEY, "secret_access_key": secret}  # fmt: skip
    return RemoteConfig(name, "s3", options)
