"""The statements a real database engine runs, seen through SQLAlchemy's events.

How a test watches (or slows) the writes of a thread it does not drive, such as the
runner's end thread or the tokens' use writer, or counts what a page asks (one query
per row shown is an N+1), without replacing any of synchub's functions: the engine
the services were given is the seam.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def updates_of(
    engine: Engine, table: str, *, thread: str, delay_s: float = 0.0
) -> Iterator[list[Any]]:
    """The parameters of each UPDATE of `table` that a thread whose name starts with
    `thread` sends through `engine` within the block; each is held back `delay_s`
    first, as a slow database would."""
    seen: list[Any] = []
    prefix = f"UPDATE {table} "

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if statement.startswith(prefix) and threading.current_thread().name.startswith(thread):
            seen.append(parameters)
            if delay_s:
                time.sleep(delay_s)

    with listening(engine, before):
        yield seen


@contextmanager
def ends_carried(engine: Engine, *, thread: str) -> Iterator[list[Any]]:
    """The parameters of each claim that carries its thread's previous end (a
    statement that begins with the end's UPDATE in a WITH), sent by a thread whose
    name starts with `thread` within the block."""
    seen: list[Any] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        if statement.startswith("WITH ended AS") and threading.current_thread().name.startswith(
            thread
        ):
            seen.append(parameters)

    with listening(engine, before):
        yield seen


@contextmanager
def statements_of(engine: Engine, *, thread: str) -> Iterator[list[str]]:
    """Each statement a thread whose name starts with `thread` sends through `engine`
    within the block: its round trips to the database, as the driver sees them."""
    with _sent(engine, lambda s: threading.current_thread().name.startswith(thread)) as seen:
        yield seen


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent through `engine` within the block, by any thread, as text
    (transaction control left out: SQLite's BEGIN is sent only by some drivers)."""
    with _sent(engine, lambda s: not s.startswith(_CONTROL)) as seen:
        yield seen


_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def _sent(engine: Engine, wanted: Callable[[str], bool]) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if wanted(statement):
            seen.append(statement)

    with listening(engine, before):
        yield seen


@contextmanager
def listening(engine: Engine, before: Callable[..., None]) -> Iterator[None]:
    """`before` called with each statement sent through `engine` within the block
    (SQLAlchemy's before_cursor_execute), by any thread."""
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)
