"""What to tell a person when the database cannot do what was asked: its disk is full,
it is locked by another process, or it does not answer. Each passes (space is freed,
the lock let go, the server back); the CLI and the API say which, without a traceback.
"""

from __future__ import annotations

from synchub.store.outage import Fault, fault

#: The message for each fault; nothing was changed by the request that met it.
MESSAGES = {
    Fault.DISK_FULL: (
        "The database cannot write: the disk is full. Nothing was changed; free space "
        "there (`synchub doctor` says where) and try again"
    ),
    Fault.LOCKED: ("The database is locked by another process. Nothing was changed; try again"),
    Fault.UNREACHABLE: (
        "The database does not answer. Nothing was changed; try again once it is back"
    ),
}


def database_fault(exc: BaseException) -> str | None:
    """The message for a passing database fault; None when `exc` is none (a bug)."""
    kind = fault(exc)
    return None if kind is None else MESSAGES[kind]
