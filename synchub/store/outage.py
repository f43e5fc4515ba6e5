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

from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)


def is_outage(exc: BaseException) -> bool:
    """True when `exc` is the database being unreachable, not a bad statement."""
    if not isinstance(exc, DBAPIError):
        return False
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)


#: Seconds the database must keep answering before an outage counts as over: a server
#: shutting down answers a moment between refusals, and that is still the same outage.
STEADY_S = 1.0


class Outage:
    """The process's view of whether the database is reachable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None  #: monotonic time of the first failure
        self._answering: float | None = None  #: since when it answers again

    def failed(self, exc: BaseException, doing: str) -> bool:
        """Note a failure; False when it is no outage (the caller reports it)."""
        if not is_outage(exc):
            return False
        with self._lock:
            first = self._since is None
            if first:
                self._since = time.monotonic()
            self._answering = None
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        if first:
            log.warning(
                "database unreachable (%s: %s); retrying",
                doing,
                reason,
                extra={"action": "db_outage"},
            )
        else:
            log.debug("database still unreachable (%s: %s)", doing, reason)
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
        log.info("database reachable again after %.1f s", lasted, extra={"action": "db_back"})


#: One per process: every part reports to it.
DB_OUTAGE = Outage()
