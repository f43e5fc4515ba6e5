"""The local socket: `serve` listens on `serve.sock` in its data directory beside
its TCP port, and the read commands ask it first (`fetch`), with the standard
library alone: a listing then starts without SQLAlchemy and pydantic-settings.

Whoever can open the socket (mode 0600: the data directory's owner) can read the
database and the key beside it anyway, so the server answers it as the local CLI,
without a token, and only reads (see synchub/api/local.py). Anything unexpected
(no server, another version, another database, an error) makes `fetch` return
None and the command reads the database itself, as it would without a server.
Without the socket's file no server is asked, and http.client is not imported."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from synchub import __version__
from synchub.core.home import data_dir, database_id, database_url, db_url

log = logging.getLogger(__name__)

SOCKET_NAME = "serve.sock"
#: Headers of every answer on the socket: a client of another version or over
#: another database reads the database itself.
VERSION_HEADER = "X-Synchub-Version"
DATABASE_HEADER = "X-Synchub-Database"
#: Set (to anything but "" or 0): read the database directly even with a server up.
DIRECT_VARIABLE = "SYNCHUB_NO_SOCKET"
#: The most items a page of the API holds.
MOST = 1000
#: Seconds to connect: a socket answers at once, or its server is gone.
CONNECT_TIMEOUT_S = 0.25
#: Seconds an answer may take before the command reads the database itself.
ANSWER_TIMEOUT_S = 10.0
#: Longest path bind() and connect() take (sun_path is 108 bytes on Linux, 104 on
#: macOS); a longer one is reached through its directory's descriptor (Linux).
MAX_ADDRESS = 100


def fetch(path: str, query: Mapping[str, str | int | None]) -> Any | None:
    """The JSON of GET `path`?`query` from the server on this data directory, or
    None when it cannot answer for this command (see the module's docstring)."""
    if os.environ.get(DIRECT_VARIABLE, "") not in ("", "0"):
        return None
    try:
        home = data_dir()
        where = home / SOCKET_NAME
        if not where.exists():
            return None  # no server to ask
        expected = database_id(db_url(home, database_url()))
    except (OSError, ValueError):
        return None
    from synchub.cli.socket_http import HTTPException, get

    given = {key: value for key, value in query.items() if value is not None}
    target = path + ("?" + urlencode(given) if given else "")
    try:
        status, headers, body = get(_connected(where), target)
    except (OSError, ValueError, HTTPException):
        return None
    if status != 200 or headers.get(VERSION_HEADER) != __version__:
        return None
    if headers.get(DATABASE_HEADER) != expected:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def fetch_all(path: str, query: Mapping[str, str | int | None]) -> list[Any] | None:
    """Every item of the paged list at `path`, following `next_cursor`; None as
    `fetch` gives it."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = fetch(path, {**query, "cursor": cursor})
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            return None
        items += page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def _connected(path: Path) -> socket.socket:
    """A socket connected to the server's at `path`, for an answer within ANSWER_TIMEOUT_S."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)
        with address(path) as where:
            sock.connect(where)
        sock.settimeout(ANSWER_TIMEOUT_S)
    except BaseException:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def address(path: Path) -> Iterator[str]:
    """`path` as bind() and connect() take it: through /proc/self/fd when too long."""
    if len(os.fsencode(path)) <= MAX_ADDRESS:
        yield str(path)
        return
    if not Path("/proc/self/fd").is_dir():
        raise OSError(f"the socket's path is too long: {path}")
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


class Listener:
    """The socket `serve` listens on, made with mode 0600 (`open`) and removed when
    it stops (`close`) unless another server has taken the path since."""

    def __init__(self, sock: socket.socket, path: Path) -> None:
        self.sock = sock
        self.path = path
        self.inode = path.stat().st_ino

    @property
    def name(self) -> str:
        """The socket's local address, as the server sees it on each connection."""
        return str(self.sock.getsockname())

    @classmethod
    def open(cls, home: Path) -> Listener | None:
        """Listen on `home`/serve.sock, replacing one its server left behind (it
        answers nobody); None, with a warning, when another server answers on it or
        it cannot be made."""
        path = home / SOCKET_NAME
        try:
            if _answers(path):
                log.warning("%s answers already: another server uses this data directory; "
                            "this one serves no local socket", path)  # fmt: skip
                return None
            return cls(_bound(path), path)
        except OSError as exc:
            log.warning("no local socket at %s: %s", path, exc)
            return None

    def close(self) -> None:
        self.sock.close()
        with contextlib.suppress(OSError):
            if self.path.stat().st_ino == self.inode:
                self.path.unlink()


def _answers(path: Path) -> bool:
    """True when a server accepts connections on the socket at `path`."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(CONNECT_TIMEOUT_S)
        with address(path) as where:
            probe.connect(where)
        return True
    except (FileNotFoundError, ConnectionRefusedError):
        return False  # none, or a dead server's
    finally:
        probe.close()


def _bound(path: Path) -> socket.socket:
    """A socket listening at `path` with mode 0600. Bound under a name of its own,
    its mode set before it listens (no one connects to it in between), then moved
    over `path`: a dead server's socket is replaced at once."""
    own = path.with_name(f".{path.name}.{os.getpid()}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with contextlib.suppress(FileNotFoundError):
            own.unlink()
        with address(own) as where:
            sock.bind(where)
        os.chmod(own, 0o600)
        os.replace(own, path)
        sock.listen(128)
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            own.unlink()
        raise
    return sock
