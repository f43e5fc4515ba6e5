"""Shared fixtures: real databases (SQLite and PostgreSQL), a frozen clock, services."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from synchub.config import Settings
from synchub.core.clock import FakeClock
from synchub.engines.registry import builtin_engines
from synchub.services import Services
from synchub.store.db import make_engine
from synchub.store.migrate import upgrade
from tests.support.harness import Harness
from tests.support.kinds import ScriptedKind

PG_ADMIN_URL = os.environ.get(
    "SYNCHUB_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE = os.environ.get("SYNCHUB_REQUIRE_SERVICES") == "1"


def need_service(name: str, reason: str) -> None:
    """Skip for a missing service, or fail when CI says services must be there."""
    message = f"{name} is not available: {reason}"
    if REQUIRE:
        pytest.fail(message + " (SYNCHUB_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A PostgreSQL database with synchub's schema, to clone for each test."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        need_service("PostgreSQL", str(exc).splitlines()[0])
    name = f"synchub_tpl_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_pg_url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _pg_url(dbname: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'synchub.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name = f"synchub_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite database alone (no PostgreSQL variant)."""
    url = f"sqlite:///{tmp_path / 'synchub.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def clock() -> FakeClock:
    """The services' clock, frozen at Monday 2025-06-02 09:00 UTC until advanced."""
    return FakeClock(datetime(2025, 6, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def scripted() -> ScriptedKind:
    """The `scripted` engine kind: runs that succeed, fail or block as their params say."""
    return ScriptedKind()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings over `db_url`, with a home in tmp_path and a fresh secret key."""
    return Settings(
        home=tmp_path / "home",
        database_url=db_url,
        secret_key=Fernet.generate_key().decode(),
        default_tz="Europe/Berlin",
    )


@pytest.fixture
def svc(settings: Settings, clock: FakeClock, scripted: ScriptedKind) -> Iterator[Services]:
    """The services (as `synchub` itself names them) over a fresh database of each
    kind, on the frozen clock, with the built-in kinds and `scripted`, acting as alice."""
    engines = builtin_engines()
    engines[scripted.kind] = scripted
    services = Services(settings, clock=clock, engines=engines, actor="alice")
    yield services
    services.close()


@pytest.fixture
def svc_allowing_commands(svc: Services) -> Iterator[Services]:
    """Services over svc's database whose settings allow command jobs
    (SYNCHUB_ALLOW_COMMAND_JOBS=1)."""
    allowed = Services(
        svc.settings.model_copy(update={"allow_command_jobs": True}),
        clock=svc.clock,
        engines=svc.engines,
        db=svc.db,
        actor="alice",
    )
    yield allowed
    allowed.close()


@pytest.fixture
def harness(svc: Services, clock: FakeClock) -> Harness:
    """A scheduler and runner over svc, stepped by hand, to move runs along."""
    return Harness(svc, clock)
