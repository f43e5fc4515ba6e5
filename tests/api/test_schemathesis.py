"""Schemathesis against the API's own /openapi.json, as an admin: never a 5xx, and every
status code, content type, header and body is one the document promises.

- One test item per operation and database (SQLite, PostgreSQL), each over a fresh
  database (see db_url) seeded with the rows the path parameters' examples name (see
  SEEDS): schemathesis mixes those examples into the cases it generates, so cases reach
  real remotes, jobs, runs and tokens, not only 404s. What a successful DELETE removes
  is put back before the next case.
- Requests go to the app in-process, through schemathesis' ASGI transport: the same
  app, middleware and error handlers as under uvicorn, without the socket; about three
  times faster than HTTP over loopback to `Served` (measured: ~5 ms a call, not ~15).
- Checks: all of schemathesis' defaults but positive_data_acceptance ("a request the
  schema allows gets a 2xx"): semantic rules no JSON schema states (a job's remote must
  exist, a cron must parse, a name is 1-64 of [A-Za-z0-9._-]) answer a documented 422
  by design.
- Bad text: in the generate phase the fuzzer slips a character no door lets in (see
  synchub/core/text.py) into one string of about half the generated bodies, query
  strings and path parameters that hold one: controls (tab and line breaks too)
  everywhere, lone surrogates in JSON bodies (as "\\ud800" escapes; a URL or a text
  body cannot carry one). Each must answer a documented 4xx, never a 5xx (see
  BAD_TEXT and `spoiled`); on SQLite about one case in six carries one.
- The SSE endpoint is included: every seeded run has ended, so its stream ends at once;
  the request timeout would cut a stream that does not.
- Sizes: on SQLite, FAST_EXAMPLES generated cases an operation plus schemathesis'
  examples and coverage phases (~1,300 cases): about 2,350 cases. On PostgreSQL, a
  smoke run of PG_EXAMPLES generated cases an operation (about 600), which is what fits
  the time; what only PostgreSQL refuses (NUL in text, 32-bit log seq) has rows of its
  own in test_errors.py. The `slow` test runs only with SYNCHUB_FUZZ_EXAMPLES set, on
  both databases with every phase: 100 gives about 10,700 cases, 300 about 26,000.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import create_engine, inspect, text

from synchub.api.app import create_app
from synchub.config import Settings
from synchub.core.errors import NotFound
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import jobs as job_store
from synchub.store.db import make_engine, transaction
from synchub.store.tables import FileTaskRow
from synchub.store.tasks import path_key
from tests.api.conftest import Switch
from tests.conftest import PG_ADMIN_URL, migrated_sqlite
from tests.support.harness import Harness

FAST_EXAMPLES = 25
PG_EXAMPLES = 15
#: The long run, e.g. SYNCHUB_FUZZ_EXAMPLES=300: off unless set, as `make test` (and so
#: CI) runs slow tests too.
SLOW_EXAMPLES = int(os.environ.get("SYNCHUB_FUZZ_EXAMPLES", "0"))

#: The fuzzing admin's secret, given (not generated): schemathesis builds its coverage
#: cases, auth included, while pytest collects, before any database (and token) exists.
SECRET = "fuzz-" + "f" * 43
FUZZER = "fuzzer"

#: Examples for path parameters, by (path prefix, parameter): the seeded rows.
SEEDS: dict[tuple[str, str], list[Any]] = {
    ("/api/v1/remotes/", "name"): ["nas", "laptop"],  # nas is in use (409), laptop is not
    ("/api/v1/jobs/", "name"): ["photos"],
    ("/api/v1/runs/", "run_id"): [1],  # photos' run, ended, with log lines and files
    ("/api/v1/tokens/", "name"): ["ci"],
    ("/api/v1/tasks/", "task_id"): [1],  # a failed file task of photos
    ("/compat/rsh/tasks/", "task_id"): ["1"],
    ("/api/v1/task/scheduler/execute-sync/", "config_id"): ["1", "photos"],
    ("/api/v1/task/scheduler/task-result/", "task_id"): ["1"],
}

#: Points each request at the app of the test running now.
switch = Switch()


def _with_seed_examples(document: dict[str, Any]) -> dict[str, Any]:
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                for (prefix, name), examples in SEEDS.items():
                    if path.startswith(prefix) and parameter["name"] == name:
                        parameter["schema"]["examples"] = examples
    return document


async def _fetch(path: str) -> Any:
    transport = httpx.ASGITransport(app=switch)
    async with httpx.AsyncClient(transport=transport, base_url="http://synchub") as client:
        return (await client.get(path)).raise_for_status().json()


def _load() -> Any:
    """The schema as the app serves it at /openapi.json, with the seeds as examples."""
    with tempfile.TemporaryDirectory() as home:
        svc = Services(Settings(home=Path(home), database_url=f"sqlite:///{home}/unused.db"))
        switch.app = create_app(svc=svc)
        document = anyio.run(_fetch, "/openapi.json")
        switch.app = None
        svc.close()
    loaded = schemathesis.openapi.from_dict(_with_seed_examples(document))
    loaded.app = switch
    # A call that does not answer in time fails; a stream that does not end is cut.
    loaded.config.update(request_timeout=10)
    return loaded


schema = _load()


#: Characters no door lets in: controls, C1 controls and a line separator everywhere...
BAD_TEXT = "\x00\x01\t\n\r\x1b\x7f\x9b\u2028"
#: ... and lone surrogates where the text travels as JSON.
BAD_IN_JSON = BAD_TEXT + "\ud800\udbff\udc00\udfff"


def _slots(value: Any, at: tuple[Any, ...] = (), *, keys: bool) -> list[tuple[Any, ...]]:
    """Where `value` holds strings: paths of keys and indexes; a path ending in
    ("key", k) names the mapping key k itself (only with `keys`)."""
    if isinstance(value, str):
        return [at]
    if isinstance(value, dict):
        own = [(*at, ("key", k)) for k in value if isinstance(k, str)] if keys else []
        return own + [s for k, v in value.items() for s in _slots(v, (*at, k), keys=keys)]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _slots(v, (*at, i), keys=keys)]
    return []


def _spoil(value: Any, slot: tuple[Any, ...], char: str, offset: int) -> Any:
    """A copy of `value` with `char` put into the string at `slot`."""
    if not slot:
        assert isinstance(value, str)
        offset = min(offset, len(value))
        return value[:offset] + char + value[offset:]
    head, rest = slot[0], slot[1:]
    if isinstance(head, tuple):  # a mapping key
        key = head[1]
        return {(_spoil(k, (), char, offset) if k == key else k): v for k, v in value.items()}
    if isinstance(value, list):
        return [_spoil(v, rest, char, offset) if i == head else v for i, v in enumerate(value)]
    return {k: _spoil(v, rest, char, offset) if k == head else v for k, v in value.items()}


def spoiled(value: Any, alphabet: str, *, keys: bool = True) -> st.SearchStrategy[Any]:
    """`value` as generated, or with one bad character of `alphabet` in one of its
    strings (mapping keys too, with `keys`)."""
    slots = _slots(value, keys=keys)
    if not slots:
        return st.just(value)
    bad = st.builds(
        lambda slot, char, offset: _spoil(value, slot, char, offset),
        st.sampled_from(slots),
        st.sampled_from(alphabet),
        st.integers(0, 64),
    )
    return st.one_of(st.just(value), bad)


@schema.hook
def flatmap_body(ctx: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    operation = ctx.operation
    is_json = operation is not None and any("json" in b.media_type for b in operation.body)
    return spoiled(body, BAD_IN_JSON if is_json else BAD_TEXT)


@schema.hook
def flatmap_query(ctx: schemathesis.HookContext, query: Any) -> st.SearchStrategy[Any]:
    return spoiled(query, BAD_TEXT)


@schema.hook
def flatmap_path_parameters(
    ctx: schemathesis.HookContext, path_parameters: Any
) -> st.SearchStrategy[Any]:
    return spoiled(path_parameters, BAD_TEXT, keys=False)  # the names are the template's


@schema.auth(refresh_interval=None)
class AdminToken:
    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return SECRET

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@dataclass
class Fuzzed:
    """The seeded services under test."""

    svc: Services

    def restore(self) -> None:
        """Put back what a DELETE removed, and the fuzzer's own token if it revoked
        itself, so later cases still reach real rows with a live token."""
        svc = self.svc
        try:
            svc.remotes.show("laptop")
        except NotFound:
            svc.remotes.add("laptop", "local", {})
        try:
            svc.jobs.show("photos")
        except NotFound:
            svc.jobs.add("photos", PHOTOS)
        with transaction(svc.sessions) as session:
            if session.get(FileTaskRow, 1) is None:
                job = job_store.get(session, "photos")
                assert job is not None
                now = svc.clock.now()
                session.add(
                    FileTaskRow(
                        id=1, job_id=job.id, path="a.txt", path_key=path_key("a.txt"),
                        state="failed", bytes=0, error="seeded", created_at=now, seen_at=now,
                    )
                )  # fmt: skip
        live = {t.name for t in svc.tokens.list()}
        if "ci" not in live:
            svc.tokens.create("ci", "viewer")
        if FUZZER not in live:
            svc.tokens.create(FUZZER, "admin", value=SECRET)


PHOTOS = JobFields(
    kind="scripted", params={"lines": 3, "remotes": ["nas"]}, cron="0 2 * * *", tags=["daily"]
)


@pytest.fixture(scope="module")
def pg_database(pg_template: str) -> Iterator[str]:
    """One PostgreSQL database for the module, emptied for each test."""
    name = f"synchub_fuzz_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh migrated database, as tests/conftest.py's, made faster for an item per
    operation: SQLite copies a migrated file; PostgreSQL empties the module's one."""
    if request.param == "sqlite":
        return migrated_sqlite(request.getfixturevalue("sqlite_template"), tmp_path / "synchub.db")
    url: str = request.getfixturevalue("pg_database")
    engine = make_engine(url)
    tables = [f'"{t}"' for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def fuzzed(svc: Services, harness: Harness) -> Iterator[Fuzzed]:
    svc.remotes.add("nas", "local", {})
    svc.jobs.add("photos", PHOTOS)
    run_id = svc.runs.request("photos")
    harness.step()
    assert (run_id, svc.runs.show(run_id).state) == (1, "succeeded")
    result = Fuzzed(svc)
    result.restore()
    switch.app = create_app(svc=svc)
    yield result
    switch.app = None


#: Paths whose documented 503 answers "a check found a problem" (the fuzzed server has
#: no scheduler and no data directory), not a server error.
CHECKS = {"/api/v1/health"}


def _check(case: schemathesis.Case, fuzzed: Fuzzed) -> None:
    excluded = [positive_data_acceptance]
    if case.path in CHECKS:
        excluded.append(not_a_server_error)
    response = case.call_and_validate(excluded_checks=excluded)
    if case.method == "DELETE" and response.status_code < 300:
        fuzzed.restore()


FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.slow  # 25 cases for each operation: a quarter of the fast loop's time
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@schema.parametrize()
@settings(FUZZ, max_examples=FAST_EXAMPLES)
def test_the_api_keeps_to_its_schema_on_sqlite(case: schemathesis.Case, fuzzed: Fuzzed) -> None:
    _check(case, fuzzed)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@schema.parametrize()
@settings(FUZZ, max_examples=PG_EXAMPLES, phases=[Phase.generate])
def test_the_api_keeps_to_its_schema_on_postgresql(case: schemathesis.Case, fuzzed: Fuzzed) -> None:
    _check(case, fuzzed)


@pytest.mark.slow
@pytest.mark.skipif(not SLOW_EXAMPLES, reason="the long run: set SYNCHUB_FUZZ_EXAMPLES=300")
@schema.parametrize()
@settings(FUZZ, max_examples=max(SLOW_EXAMPLES, 1))
def test_the_api_keeps_to_its_schema_at_length(case: schemathesis.Case, fuzzed: Fuzzed) -> None:
    _check(case, fuzzed)
