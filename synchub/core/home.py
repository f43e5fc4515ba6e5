"""Where the data directory is, and which database it is used with, found as
`Settings` finds them (the environment, then `synchub.toml`, then the platform's
default) with the standard library alone: the listings that read through a running
server's local socket start without pydantic-settings."""

from __future__ import annotations

import hashlib
import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import platformdirs

CONFIG_FILE = "synchub.toml"
#: The variables that name the database, the first found winning (Settings' aliases).
DATABASE_VARIABLES = ("SYNCHUB_DATABASE_URL", "DATABASE_URL")


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("synchub", appauthor=False))


def config_home() -> Path:
    """The directory whose synchub.toml is read: SYNCHUB_HOME, else the default."""
    return Path(os.environ.get("SYNCHUB_HOME") or default_home()).expanduser()


def data_dir() -> Path:
    """The data directory: SYNCHUB_HOME (in any case, as pydantic-settings reads
    variables), else `home` in synchub.toml, else the platform's default."""
    found = _environ(["SYNCHUB_HOME"]) or _in_file(["home"])
    return Path(found).expanduser() if found else config_home()


def database_url() -> str:
    """The database URL set in the environment or in synchub.toml; "" for none
    (SQLite in the data directory)."""
    return plain_postgres_driver(_environ(DATABASE_VARIABLES) or _in_file(DATABASE_VARIABLES))


def plain_postgres_driver(url: str) -> str:
    """`url` naming psycopg 3 (the driver shipped) when it names PostgreSQL plainly,
    as users of the seed systems write it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def db_url(home: Path, url: str) -> str:
    """The database used: `url`, or SQLite in the data directory `home`."""
    return url or f"sqlite:///{home / 'synchub.db'}"


def database_id(url: str) -> str:
    """A short digest of a database URL: whether two processes use the same database,
    told without showing the URL (it may hold a password)."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    with path.open("rb") as file:
        return tomllib.load(file)


def _environ(names: Iterable[str]) -> str:
    upper = {key.upper(): value for key, value in os.environ.items()}
    return next((upper[name] for name in names if upper.get(name)), "")


def _in_file(keys: Iterable[str]) -> str:
    data = {key.lower(): value for key, value in read_toml(config_home() / CONFIG_FILE).items()}
    found = next((data[key.lower()] for key in keys if data.get(key.lower())), "")
    return found if isinstance(found, str) else ""
