"""A database outage (a restart, a failover, a cut connection), told once.

Every part of a process that touches the database (the scheduler, each run's
heartbeat and end, the alerts) meets the same outage at the same moment, and each
tries again on its own. A traceback per attempt would bury the log, so the process
says it once: a warning at the first failure, a line when the database answers
again, and the failures in between only at debug level.
"""

from __future__ import annotations

import logging
import threading
import time
from enum import StrEnum

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)


class Fault(StrEnum):
    """What keeps the database from answering, as the log and doctor name it."""

    UNREACHABLE = "database unreachable"
    DISK_FULL = "database disk full"
    LOCKED = "database locked"


#: Words of the driver's message that tell a fault from an unreachable server: SQLite
#: says "database or disk is full" (SQLITE_FULL), PostgreSQL "No space left on device"
#: (SQLSTATE 53100, disk_full); SQLite says "database is locked" while another
#: process holds its write lock past the busy timeout.
_FAULT_WORDS = (
    (Fault.DISK_FULL, ("database or disk is full", "no space left on device", "disk full")),
    (Fault.LOCKED, ("database is locked", "database table is locked")),
)


def fault(exc: BaseException) -> Fault | None:
    """What kind of passing fault `exc` is; None for a bad statement (or no DB error).

    Each is worth trying again (space is freed, the lock is let go, the server comes
    back), but each is reported for what it is: a full disk is no unreachable server.
    """
    if not isinstance(exc, DBAPIError):
        return None
    if not (exc.connection_invalidated or isinstance(exc, OperationalError)):
        return None
    orig = exc.orig
    said = f"{orig} {getattr(orig, 'sqlstate', '') or ''}".lower()
    if getattr(orig, "sqlstate", None) == "53100":
        return Fault.DISK_FULL
    for kind, words in _FAULT_WORDS:
        if any(word in said for word in words):
            return kind
    return Fault.UNREACHABLE


def is_outage(exc: BaseException) -> bool:
    """True when `exc` is a passing database fault (see `fault`), not a bad statement."""
    return fault(exc) is not None


#: Seconds the database must keep answering before an outage counts as over: a server
#: shutting down answers a moment between refusals, and that is still the same outage.
STEADY_S = 1.0


class Outage:
    """The process's view of whether the database is reachable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None  #: monotonic time of the first failure
        self._answering: float | None = None  #: since when it answers again
        self._kind = Fault.UNREACHABLE  #: what the first failure of this outage was

    def failed(self, exc: BaseException, doing: str) -> bool:
        """Note a failure; False when it is no outage (the caller reports it)."""
        kind = fault(exc)
        if kind is None:
            return False
        with self._lock:
            first = self._since is None
            if first:
                self._since = time.monotonic()
                self._kind = kind
            self._answering = None
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        if first:
            log.warning(
                "%s (%s: %s); retrying",
                kind,
                doing,
                reason,
                extra={"action": "db_outage"},
            )
        else:
            log.debug("still: %s (%s: %s)", kind, doing, reason)
        return True

    def ok(self) -> None:
        """Note a success: the end of an outage once the database keeps answering."""
        if self._since is None:
            return
        now = time.monotonic()
        with self._lock:
            since = self._since
            if since is None:
                return
            if self._answering is None:
                self._answering = now
                return
            if now - self._answering < STEADY_S:
                return
            lasted, self._since, self._answering = self._answering - since, None, None
            kind = self._kind
        back = "reachable again" if kind is Fault.UNREACHABLE else f"answering again ({kind})"
        log.info("database %s after %.1f s", back, lasted, extra={"action": "db_back"})

    def current(self) -> Fault | None:
        """The fault of the outage under way, None when the database answers."""
        with self._lock:
            return None if self._since is None else self._kind


#: One per process: every part reports to it.
DB_OUTAGE = Outage()
