"""Files synchub keeps: private to the user it runs as, whatever the umask.

The data directory is 0700 and the files synchub makes in it 0600: the database
holds token hashes and sealed secrets, the key opens them. Modes are set
explicitly, never through the umask: a process-wide umask would also reach the files
rclone writes to a local destination.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
#: SQLite's companions of a database file; they take its mode when SQLite makes them.
SQLITE_SUFFIXES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """Make the directory `path` (0700) and its missing parents (the usual mode);
    an existing one is left as it is."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return
    os.chmod(path, DIR_MODE)  # the umask may have taken bits away


def private_file(path: Path) -> None:
    """Create `path` empty and 0600 unless it exists (an empty file is a valid SQLite
    database: SQLite then gives its -wal and -shm files the same mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for another database or :memory:."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


def too_open(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """The existing `paths` that others than their owner may use, with their modes
    (directories as themselves, symbolic links as what they point to)."""
    found = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            found.append((path, mode))
    return found


def tighten(paths: Iterable[Path]) -> list[tuple[Path, int]]:
    """Take the group's and others' rights from the existing `paths` (0700 for a
    directory, 0600 for a file); the ones changed, with their former modes."""
    changed = too_open(paths)
    for path, _mode in changed:
        os.chmod(path, DIR_MODE if path.is_dir() else FILE_MODE)
    return changed
