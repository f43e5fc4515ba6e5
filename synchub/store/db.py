"""Engines and sessions for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from synchub.core.text import loads_repaired
from synchub.store.files import private_dir, private_file, sqlite_file

READONLY = "synchub_readonly"
T = TypeVar("T")


#: A pooled connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0


def make_engine(url: str, *, ping_after_idle_s: float = PING_AFTER_IDLE_S) -> Engine:
    """An Engine for `url`; SQLite gets WAL, foreign keys and serialised writers.
    `ping_after_idle_s`: how long a PostgreSQL connection may idle unchecked."""
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None:
            # Made here, 0600, before SQLite makes it with the umask's mode (and its
            # -wal and -shm files with the same).
            private_dir(path.parent)
            private_file(path)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            json_deserializer=loads_repaired,
        )
        _tune_sqlite(engine)
        return engine
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        json_deserializer=loads_repaired,
        connect_args=_pg_connect_args(url),
    )
    _ping_when_idle(engine, ping_after_idle_s)
    return engine


#: Seconds a new PostgreSQL connection may take: a server that accepts and then says
#: nothing (a failover half-done) must not hold a heartbeat or a run's end forever.
PG_CONNECT_TIMEOUT_S = 10


def _pg_connect_args(url: str) -> dict[str, Any]:
    """A connect timeout and TCP keep-alives, unless the URL sets them itself."""
    query = make_url(url).query
    wanted: dict[str, Any] = {
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }
    return {k: v for k, v in wanted.items() if k not in query}


def _ping_when_idle(engine: Engine, after_s: float) -> None:
    """Check a pooled connection before use only when it sat idle for a while.

    `pool_pre_ping` would ping on every checkout: a round trip per transaction, two
    per run on a worker. A connection used a moment ago is almost surely alive; one
    that idled may have been closed by a database restart or a firewall, and is then
    replaced before anyone uses it. A connection that dies while in use fails its
    transaction, and SQLAlchemy then replaces every connection of the pool.
    """

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < after_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception:
            alive = False
        if not alive:
            # The pool then discards this connection and checks out a fresh one.
            raise DisconnectionError("a pooled connection died while idle")


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Takes effect in a new database only (before its first table): pruning can
        # then give pages back to the file system. Older files: `incremental_vacuum_on`.
        # Only on an empty file: on one in use it waits for the write lock, which a
        # new connection opened during another's write would never get.
        if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a read-then-write transaction (a
        # claim) can never be overtaken between its check and its write, and never
        # fails half-way with "database is locked" on lock upgrade. Read-only
        # transactions need no lock at all in WAL mode, so they do not queue behind
        # writers.
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def again_if_disconnected(work: Callable[[], T]) -> T:
    """`work()`, once more when it failed because its database connection was dead
    (a database restart; the pool then holds only fresh connections).

    Only for work whose writes are conditional, so that doing it again after a commit
    that went through unseen changes nothing.
    """
    try:
        return work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        return work()


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only: on SQLite it takes no write lock."""
    with factory() as session, session.begin():
        session.connection(execution_options={READONLY: True})
        yield session


@contextmanager
def one_transaction(factory: sessionmaker[Session]) -> Iterator[OneTransaction]:
    """One database transaction that many `transaction(...)` blocks join: its
    `sessions` give sessions on one connection, whose own begin and commit are a
    savepoint and its release. Nothing is kept unless `commit()` is called; an
    error rolls back a block's savepoint alone, and the caller decides on the rest.
    On SQLite the write lock is taken at the start (BEGIN IMMEDIATE)."""
    bind = factory.kw["bind"]
    with bind.connect() as conn:
        outer = conn.begin()
        try:
            yield OneTransaction(conn, outer)
        finally:
            if outer.is_active:
                outer.rollback()


class OneTransaction:
    """See `one_transaction`."""

    def __init__(self, conn: Connection, outer: Any) -> None:
        self._outer = outer
        #: sessions whose transactions are savepoints within this one
        self.sessions: sessionmaker[Session] = sessionmaker(
            conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    def commit(self) -> None:
        self._outer.commit()


def is_postgresql(factory: sessionmaker[Session]) -> bool:
    bind = factory.kw.get("bind")
    return isinstance(bind, Engine) and bind.dialect.name == "postgresql"


@contextmanager
def autocommit(factory: sessionmaker[Session]) -> Iterator[Connection]:
    """A pooled connection of `factory`'s engine on which each statement commits on
    its own: no BEGIN and COMMIT round trips. PostgreSQL only, and only for work that
    is one statement (or a function that is one transaction by itself); the
    connection goes back to the pool in its usual mode."""
    bind = factory.kw["bind"]
    with bind.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


#: SQLite's `PRAGMA auto_vacuum` value for INCREMENTAL.
INCREMENTAL = 2


def incremental_vacuum_on(engine: Engine) -> bool:
    """Make a SQLite file give freed pages back (`PRAGMA incremental_vacuum`); True
    when it had to be rewritten for it (one VACUUM: a file made before synchub set
    the pragma). Nothing for PostgreSQL, whose autovacuum does the same."""
    if engine.dialect.name != "sqlite":
        return False
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if cursor.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL:
            return False
        # VACUUM cannot run in a transaction; the connection is in autocommit mode
        # (see `_tune_sqlite`).
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("VACUUM")
        return True
    finally:
        raw.close()
