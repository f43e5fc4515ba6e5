"""The data directory's modes: 0700 for it, 0600 for synchub's files in it (and for a
SQLite database kept elsewhere). New ones are made so; `synchub init` tightens older
ones, and the long-running processes warn at start about any that is wider."""

from __future__ import annotations

from pathlib import Path

from synchub.config import Settings
from synchub.store.files import SQLITE_SUFFIXES, sqlite_file, tighten, too_open


def own_paths(settings: Settings) -> list[Path]:
    """The data directory and the files synchub keeps: the key, the settings file, and
    a SQLite database with its -wal, -shm and -journal files."""
    paths = [settings.home, settings.key_path, settings.home / "synchub.toml"]
    db = sqlite_file(settings.db_url)
    if db is not None:
        paths += [db, *(db.with_name(db.name + suffix) for suffix in SQLITE_SUFFIXES)]
    return paths


def mode_warnings(settings: Settings) -> list[str]:
    """One line for each of synchub's paths that others than its owner may use."""
    return [
        f"{path} is open to other users (mode {mode:04o}); `synchub init` makes it "
        f"{'0700' if path.is_dir() else '0600'}"
        for path, mode in too_open(own_paths(settings))
    ]


def tighten_modes(settings: Settings) -> list[str]:
    """Make synchub's paths 0700 (the directory) and 0600 (the files); one line for
    each one changed."""
    return [
        f"tightened {path} from {mode:04o} to {'0700' if path.is_dir() else '0600'}"
        for path, mode in tighten(own_paths(settings))
    ]
