"""A database fault told for what it is: unreachable, disk full, or locked."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from synchub.store.outage import Fault, Outage, fault, is_outage


def _sqlite_error(path: Path, statement: str, *, setup: str = "") -> DBAPIError:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        if not path.exists():
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE t (v TEXT)"))
        with engine.connect() as conn:
            if setup:
                conn.exec_driver_sql(setup)
            with pytest.raises(DBAPIError) as caught:
                conn.execute(text(statement))
        return caught.value
    finally:
        engine.dispose()


def test_a_full_sqlite_database_is_disk_full_not_unreachable(tmp_path: Path) -> None:
    # max_page_count makes SQLite answer SQLITE_FULL as a full disk does.
    exc = _sqlite_error(
        tmp_path / "full.db",
        "INSERT INTO t VALUES (hex(randomblob(100000)))",
        setup="PRAGMA max_page_count = 3",
    )
    assert "database or disk is full" in str(exc)
    assert fault(exc) is Fault.DISK_FULL
    assert is_outage(exc)  # worth trying again once space is back


def test_a_locked_sqlite_database_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = create_engine(f"sqlite:///{path}")
    with holder.begin() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT)"))
    with holder.connect() as conn:
        conn.exec_driver_sql("BEGIN EXCLUSIVE")
        exc = _sqlite_error(path, "INSERT INTO t VALUES ('x')")
        conn.rollback()
    holder.dispose()
    assert "database is locked" in str(exc)
    assert fault(exc) is Fault.LOCKED


def test_postgresql_disk_full_by_its_sqlstate() -> None:
    exc = OperationalError("INSERT", {}, psycopg.errors.DiskFull("could not extend file"))
    assert fault(exc) is Fault.DISK_FULL


def test_a_refused_connection_is_unreachable_and_a_bad_statement_no_fault() -> None:
    refused = OperationalError("SELECT 1", {}, Exception("connection refused"))
    assert fault(refused) is Fault.UNREACHABLE
    assert fault(IntegrityError("INSERT", {}, Exception("UNIQUE constraint"))) is None
    assert fault(ValueError("no database error")) is None


def test_the_outage_warning_names_the_fault(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exc = _sqlite_error(
        tmp_path / "full.db",
        "INSERT INTO t VALUES (hex(randomblob(100000)))",
        setup="PRAGMA max_page_count = 3",
    )
    outage = Outage()
    with caplog.at_level(logging.WARNING, logger="synchub.store.outage"):
        assert outage.failed(exc, "run 3's end")
    assert outage.current() is Fault.DISK_FULL
    assert [r.getMessage() for r in caplog.records] == [
        "database disk full (run 3's end: database or disk is full); retrying"
    ]
