"""Alembic, driven from code: upgrade, and check the schema before serving."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from synchub.store import job_summary
from synchub.store.db import incremental_vacuum_on
from synchub.store.schema import HEAD, check_schema, current_revision

__all__ = ["alembic_config", "check_schema", "current_revision", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run again. A SQLite file made before
    revision 0018 is rewritten once, so that pruning shrinks it. The jobs' staleness
    bounds that a migration (or a job written by other means) left at an hour are
    worked out from their schedules."""
    command.upgrade(alembic_config(engine), revision)
    incremental_vacuum_on(engine)
    if current_revision(engine) == HEAD:
        with Session(engine) as session, session.begin():
            job_summary.refine_stale_bounds(session, datetime.now(UTC))


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head
