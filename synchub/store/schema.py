"""Which schema this code works with, and the check that the database has it.

Kept apart from `migrate` so that checking costs no alembic import: `serve`,
`scheduler` and every `synchub worker` process check at start, and alembic adds
≈ 9 MiB to a process (to each of a prefork worker's processes).
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from synchub.core.errors import SchemaOutdated
from synchub.store.db import READONLY

#: Every migration's revision, oldest first; the last is the head. A test keeps this
#: equal to the revisions in `migrations/versions`: add a migration's here with it.
REVISIONS = (
    "0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011",
    "0012", "0013", "0014", "0015", "0016", "0017", "0018",
    "0019", "0020", "0021", "0022", "0023", "0024",
    "0025",
)  # fmt: skip
HEAD = REVISIONS[-1]


def current_revision(engine: Engine) -> str | None:
    """The database's alembic revision, None when it has no synchub schema."""
    # A read: on SQLite it must not take the write lock (BEGIN IMMEDIATE), or every
    # command's check waits behind the scheduler's and the runners' writes.
    with engine.connect().execution_options(**{READONLY: True}) as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def check_schema(engine: Engine) -> None:
    """Raise SchemaOutdated unless the database is at this code's head revision."""
    current = current_revision(engine)
    if current == HEAD:
        return
    if current is None:
        raise SchemaOutdated(
            "The database has no synchub schema: run `synchub init` (or `synchub db upgrade`)"
        )
    if current not in REVISIONS:
        raise SchemaOutdated(
            f"The database schema ({current}) is newer than this synchub knows: "
            "upgrade synchub, or point it at another database"
        )
    raise SchemaOutdated(
        f"The database schema ({current}) is out of date: run `synchub db upgrade`"
    )
