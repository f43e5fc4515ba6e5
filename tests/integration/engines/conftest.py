"""Real remotes served by `rclone serve` on loopback, one per session and kind.

Each server gets a free port, is waited for until it accepts connections,
and is always stopped at the end of the session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.engines.helpers import ACCESS_KEY, PASSWORD, SECRET_KEY, USER, Server, serve


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`rclone serve sftp` on loopback, for the session."""
    base = tmp_path_factory.mktemp("sftp")
    yield from serve(
        "sftp", base / "root", ["--user", USER, "--pass", PASSWORD], base / "serve.log"
    )


@pytest.fixture(scope="session")
def webdav_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`rclone serve webdav` on loopback, for the session."""
    base = tmp_path_factory.mktemp("webdav")
    yield from serve(
        "webdav", base / "root", ["--user", USER, "--pass", PASSWORD], base / "serve.log"
    )


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`rclone serve s3` on loopback with one bucket, for the session."""
    base = tmp_path_factory.mktemp("s3")
    (base / "root" / "bucket").mkdir(parents=True)  # top-level directories are buckets
    yield from serve(
        "s3", base / "root", ["--auth-key", f"{ACCESS_KEY},{SECRET_KEY}"], base / "serve.log"
    )
