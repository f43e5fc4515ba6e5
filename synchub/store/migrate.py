"""Alembic, driven from code: upgrade, and check the schema before serving."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from synchub.core.errors import SchemaOutdated

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run again."""
    command.upgrade(alembic_config(engine), revision)


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _known(revision: str) -> bool:
    from alembic.util.exc import CommandError

    try:
        return ScriptDirectory(str(MIGRATIONS)).get_revision(revision) is not None
    except CommandError:
        return False


def check_schema(engine: Engine) -> None:
    """Raise SchemaOutdated unless the database is at this code's head revision."""
    current = current_revision(engine)
    if current == head_revision():
        return
    if current is None:
        raise SchemaOutdated(
            "The database has no synchub schema: run `synchub init` (or `synchub db upgrade`)"
        )
    if not _known(current):
        raise SchemaOutdated(
            f"The database schema ({current}) is newer than this synchub knows: "
            "upgrade synchub, or point it at another database"
        )
    raise SchemaOutdated(
        f"The database schema ({current}) is out of date: run `synchub db upgrade`"
    )
