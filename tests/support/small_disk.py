"""A small file system of its own (tmpfs), to fill up without touching the machine's.

Mounting needs root with CAP_SYS_ADMIN. Where the process has both, mounting is expected
to work: a refusal then skips, or fails under SYNCHUB_REQUIRE_SERVICES=1 like a missing
service. Without them (an ordinary user, an unprivileged container) the test skips,
whatever SYNCHUB_REQUIRE_SERVICES says: no set-up could make it run there.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need_service

CAP_SYS_ADMIN = 21


def can_mount() -> bool:
    """True for root holding CAP_SYS_ADMIN in its effective set."""
    if os.geteuid() != 0:
        return False
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    return False


class SmallDisk:
    """A mounted tmpfs of `size` bytes at `path`, and a filler file to take its space."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self, leave: int = 0) -> None:
        """Write the filler until the file system refuses another byte; then give
        `leave` bytes back."""
        block = b"\1" * (64 << 10)
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (len(block), 4096, 1):
                try:
                    while os.write(fd, block[:size]):
                        pass
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)
        assert os.statvfs(self.path).f_bavail == 0
        if leave:
            os.truncate(self.filler, self.filler.stat().st_size - leave)

    def free(self) -> None:
        """Give the space back."""
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """An 8 MiB tmpfs mounted for the test, unmounted after it."""
    path = tmp_path / "small"
    path.mkdir()
    if not can_mount():
        pytest.skip("a small file system needs root with CAP_SYS_ADMIN to mount tmpfs")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        need_service("mount -t tmpfs", mounted.stderr.strip() or f"exit {mounted.returncode}")
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
