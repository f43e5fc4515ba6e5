"""Browsing this machine's directories, confined to the admin's browse roots
(`SYNCHUB_BROWSE_ROOTS`): how a client picks a local folder to watch.

Every path is resolved (symlinks and `..`) before it is checked, and the directory
actually opened is checked again, so neither a symlink nor a `..` leads outside the
roots, not even one swapped in between the check and the listing.

`/` stands for the roots themselves: it lists each root as an entry (the ones that
exist), unless `/` is itself a root, when it lists the file system's top directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from synchub.core.errors import (
    DirectoryNotFound,
    DirectoryUnreadable,
    InvalidPath,
    OutsideBrowseRoots,
)

#: The most entries one listing returns; `truncated` says when there were more.
MAX_ENTRIES = 10_000
#: How much of a refused path an error message repeats.
_SHOWN_CHARS = 200
#: Why nothing may be browsed or watched, and how the admin changes that.
NO_ROOTS = (
    "No browse roots are set, so no local folder may be browsed or watched: the admin "
    "sets SYNCHUB_BROWSE_ROOTS to the directories allowed, separated by ':' "
    "(e.g. SYNCHUB_BROWSE_ROOTS=/srv/inbox:/home/me), and restarts synchub"
)


@dataclass(frozen=True)
class DirEntry:
    name: str  #: the directory's name; a root's full path
    path: str  #: its absolute path, the one to browse next


@dataclass(frozen=True)
class Listing:
    entries: list[DirEntry]  #: directories only, sorted by name
    truncated: bool  #: more than the limit (MAX_ENTRIES): the first ones by name are given


def _shown(path: str) -> str:
    return repr(path if len(path) <= _SHOWN_CHARS else path[:_SHOWN_CHARS] + "…")


def _inside(path: str, roots: Iterable[str]) -> bool:
    """True when the resolved `path` is one of the resolved `roots` or under one."""
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _utf8(name: str) -> bool:
    """False for a name whose bytes are not UTF-8 (Python keeps them as surrogates):
    it cannot travel in JSON and could not be sent back to us."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _sorted(entries: list[DirEntry], limit: int) -> Listing:
    entries.sort(key=lambda e: (e.name.casefold(), e.name))
    return Listing(entries[:limit], truncated=len(entries) > limit)


def list_directories(roots: Sequence[Path], path: str, *, limit: int = MAX_ENTRIES) -> Listing:
    """The directories in `path`, one of `roots` or under one once resolved; the
    first `limit` of them by name.

    `path` "/" (or empty) lists the roots themselves, unless "/" is a root.
    Raises InvalidPath for a relative path or one the system cannot take (NUL, too
    long); OutsideBrowseRoots when no root holds it (after symlinks and `..`) or no
    roots are set; DirectoryNotFound when it is missing or not a directory;
    DirectoryUnreadable when the server may not list it.
    """
    real_roots = _real_roots(roots)
    path = path or "/"
    if path == "/" and "/" not in real_roots:
        roots_there = [DirEntry(str(root), str(root)) for root in roots if os.path.isdir(root)]
        return _sorted(roots_there, limit)
    fd, opened = _open_inside(real_roots, path)
    try:
        return _sorted(list(_subdirectories(fd, opened, real_roots)), limit)
    finally:
        os.close(fd)


def resolve_directory(roots: Sequence[Path], path: str) -> str:
    """The real path (symlinks and `..` resolved) of the directory `path`, which must
    exist and be one of `roots` or under one: the check `list_directories` makes, for
    whatever else takes a directory from a client (a watched folder's source).
    Raises as `list_directories` does."""
    fd, opened = _open_inside(_real_roots(roots), path)
    os.close(fd)
    return opened


def inside_roots(roots: Sequence[Path], path: str) -> bool:
    """Whether `path`, resolved as far as it exists, is one of `roots` or under one.
    For a path that may be gone (a watched folder deleted since), so nothing is opened."""
    try:
        return _inside(os.path.realpath(path), [os.path.realpath(root) for root in roots])
    except (OSError, ValueError):  # too long for this system, a NUL
        return False


def _real_roots(roots: Sequence[Path]) -> list[str]:
    if not roots:
        raise OutsideBrowseRoots(NO_ROOTS)
    return [os.path.realpath(root) for root in roots]


def _open_inside(real_roots: list[str], path: str) -> tuple[int, str]:
    """The directory `path` opened (its descriptor, its real path), once both the path
    resolved and the directory actually opened are found inside `real_roots`."""
    if "\0" in path:
        raise InvalidPath("Bad path: it holds a NUL character")
    if not path.startswith("/"):
        raise InvalidPath(f"Bad path {_shown(path)}: it must be absolute")
    try:
        real = os.path.realpath(path)
    except OSError as exc:  # e.g. too long for this system
        raise InvalidPath(f"Bad path {_shown(path)}: {os.strerror(exc.errno or 0)}") from None
    if not _inside(real, real_roots):
        raise OutsideBrowseRoots(
            f"{_shown(path)} is outside the directories this server may browse"
        )
    fd = _open_directory(real, path)
    opened = _opened_path(fd) or real
    if not _inside(opened, real_roots):  # swapped for a symlink after the check
        os.close(fd)
        raise OutsideBrowseRoots(
            f"{_shown(path)} is outside the directories this server may browse"
        )
    return fd, opened


def _open_directory(real: str, asked: str) -> int:
    try:
        return os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise DirectoryNotFound(f"No directory {_shown(asked)}") from None
    except NotADirectoryError:
        raise DirectoryNotFound(f"{_shown(asked)} is not a directory") from None
    except PermissionError:
        raise DirectoryUnreadable(f"The server may not read {_shown(asked)}") from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise InvalidPath(f"Bad path {_shown(asked)}: too long for this system") from None
        raise DirectoryNotFound(
            f"Cannot open {_shown(asked)}: {os.strerror(exc.errno or 0)}"
        ) from None


def _opened_path(fd: int) -> str | None:
    """Where the open directory `fd` really is, from /proc; None where unknown."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _subdirectories(fd: int, parent: str, real_roots: list[str]) -> Iterable[DirEntry]:
    """The directories in the open directory `fd` (at `parent`): symlinks to
    directories inside the roots included, those leading out left out."""
    try:
        scan = os.scandir(fd)
    except PermissionError:
        raise DirectoryUnreadable(f"The server may not read {_shown(parent)}") from None
    with scan:
        for entry in scan:
            if not _utf8(entry.name):
                continue
            child = os.path.join(parent, entry.name)
            with contextlib.suppress(OSError):  # vanished or unreadable: left out
                if not entry.is_dir():  # follows symlinks: a broken one is no directory
                    continue
                if entry.is_symlink() and not _inside(os.path.realpath(child), real_roots):
                    continue
                yield DirEntry(entry.name, child)
