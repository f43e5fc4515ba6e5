"""Shared fixtures: real databases (SQLite and PostgreSQL), a frozen clock, services."""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _pytest.mark.expression import Expression
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
from tests.support.pg_clones import Clones

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


#: Directories every test of which is slow: they start processes of their own for
#: each test (`synchub` commands, servers, Celery workers, rclone).
SLOW_DIRS = (Path("e2e"), Path("distributed"), Path("integration/engines"))
#: Fixtures that reach the PostgreSQL server.
PG_FIXTURES = frozenset({"pg_template", "pg_clones", "pg_url"})
#: Files every test of which is slow or needs the PostgreSQL server, and whose mere
#: collection takes seconds (schemathesis builds a test for each operation).
SLOW_OR_PG_FILES = (Path("api/test_schemathesis.py"),)
#: A name in a -m expression (pytest's grammar); some of them name no marker.
NAME = r"[\w:+\-.\[\]\\/]+"
OPERATORS = frozenset({"and", "or", "not", "True", "False", "None"})


def never_selects(markexpr: str, marks: frozenset[str]) -> bool:
    """Whether `-m markexpr` leaves out every test marked `marks`, whatever other
    markers it has: tried with each of the expression's other names on and off."""
    called = re.findall(f"({NAME})" + r"\s*\(", markexpr)
    if not markexpr or set(called) - OPERATORS:
        return False  # no expression, or markers with arguments: collect as usual
    names = set(re.findall(NAME, markexpr)) - OPERATORS - marks
    if len(names) > 10:
        return False
    expression = Expression.compile(markexpr)
    for values in itertools.product((False, True), repeat=len(names)):
        on = marks | {name for name, value in zip(sorted(names), values, strict=True) if value}
        if expression.evaluate(on.__contains__):
            return False
    return True


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave out what `-m` would deselect anyway, where collecting it costs: the
    directories of SLOW_DIRS, the files of SLOW_OR_PG_FILES."""
    markexpr = config.getoption("markexpr", "")
    tests = Path(__file__).parent
    if any(collection_path.is_relative_to(tests / d) for d in SLOW_DIRS):
        return never_selects(markexpr, frozenset({"slow"})) or None
    if any(collection_path == tests / f for f in SLOW_OR_PG_FILES):
        each = (frozenset({"slow"}), frozenset({"postgresql"}))
        return all(never_selects(markexpr, marks) for marks in each) or None
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests in SLOW_DIRS `slow`, and each test that needs the PostgreSQL
    server (a `postgresql` parameter, or a fixture of PG_FIXTURES) `postgresql`."""
    tests = Path(__file__).parent
    slow_dirs = [tests / d for d in SLOW_DIRS]
    for item in items:
        if any(item.path.is_relative_to(d) for d in slow_dirs):
            item.add_marker(pytest.mark.slow)
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        if "postgresql" in params or PG_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.postgresql)
        if item.path in [tests / f for f in SLOW_OR_PG_FILES]:
            marked = {mark.name for mark in item.iter_markers()}
            assert marked & {"slow", "postgresql"}, f"{item.nodeid} is in SLOW_OR_PG_FILES"


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


@pytest.fixture(scope="session")
def pg_clones(pg_template: str) -> Iterator[Clones]:
    """Fresh clones of the template, made ahead and dropped behind (see Clones)."""
    clones = Clones(PG_ADMIN_URL, pg_template, "synchub_t_")
    yield clones
    clones.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with synchub's schema, made once per process, to copy for each
    test: a copy takes a millisecond, running the migrations far longer."""
    path = tmp_path_factory.mktemp("sqlite-template") / "synchub.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection closed moves the WAL into the file
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the template's WAL was kept"
    return path


def migrated_sqlite(template: Path, path: Path) -> str:
    """The URL of a fresh, migrated SQLite database at `path`, copied from `template`
    (0600, as synchub makes its own)."""
    shutil.copyfile(template, path)
    path.chmod(0o600)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        yield migrated_sqlite(request.getfixturevalue("sqlite_template"), tmp_path / "synchub.db")
        return
    clones: Clones = request.getfixturevalue("pg_clones")
    name = clones.take()
    yield _pg_url(name)
    clones.drop(name)


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
