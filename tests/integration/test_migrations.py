"""Migrations build exactly the schema the models declare, and serve checks it."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from synchub.core.errors import SchemaOutdated
from synchub.store.db import make_engine
from synchub.store.migrate import check_schema, upgrade
from synchub.store.tables import Base


def test_upgrade_head_yields_the_models_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent_and_check_passes(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_serving_an_empty_or_foreign_schema_is_refused_with_the_fix(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(SchemaOutdated, match="synchub init"):
        check_schema(engine)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(SchemaOutdated, match="newer"):
        check_schema(engine)
    engine.dispose()
