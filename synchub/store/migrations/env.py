"""Alembic environment: the engine comes from synchub, never from an ini file."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import text

from synchub.store.tables import Base

engine = context.config.attributes["engine"]


def _sqlite_foreign_keys(connection: Any, on: bool) -> None:
    """Switch SQLite's foreign key enforcement, outside any transaction.

    A batch migration rebuilds a table: copy, DROP, rename. With enforcement on,
    SQLite's DROP TABLE first deletes every row and fires ON DELETE CASCADE, which
    would empty the tables that reference it (runs -> run_logs, run_files). The
    pragma is a no-op inside a transaction, so it goes straight to the driver's
    connection before Alembic begins one (and after it ends).
    """
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _sqlite_foreign_keys(connection, on=False)
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            # One transaction for the whole upgrade on SQLite too (its DDL is
            # transactional): the check below can still undo it all.
            transactional_ddl=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                # What enforcement would have refused must not slip through while off.
                broken = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
                if broken:
                    raise RuntimeError(f"migration left dangling references: {broken[:5]}")
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)
