"""A seeded database kept between runs of a benchmark: seeding a million runs takes
minutes, copying them seconds.

The cache is under SYNCHUB_BENCH_CACHE (default ~/.cache/synchub-bench), one entry
per key: the seed's parameters, the database kind (and PostgreSQL server), and a
digest of what makes the data (bench/api_seed.py) and the schema (synchub's
migrations, applied by synchub's own `upgrade`). A SQLite entry is a file, copied for
each run; a PostgreSQL entry is a database on the benchmark's server, the template of
each run's database (`CREATE DATABASE ... TEMPLATE`). Beside each, a JSON file keeps
what the seeding said (`api_seed.Seeded`). `reseed` makes the entry again.

A SQLite copy made more than DRIFT after its seeding is moved to the present: every
time in it (jobs, runs, any table derived from them) shifted by the entry's age, and
the schedules whose next fire came too near picked again (`api_seed.reschedule`), so
the history ends an hour ago and nothing fires while the benchmark runs, as after a
fresh seeding (about a third of the seeding's CPU). A PostgreSQL entry older than
DRIFT is seeded again instead: there the shift costs about what seeding does.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, text

from bench import api_seed
from synchub.store.db import make_engine
from synchub.store.files import private_dir, sqlite_file
from synchub.store.migrate import MIGRATIONS, head_revision, upgrade
from synchub.store.tables import Base, UtcDateTime

#: A copy younger than this is used as it is: its history ends at most this much
#: earlier than a fresh one's.
DRIFT = timedelta(minutes=5)
PG_PREFIX = "synchub_bench_seed_"


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "synchub-bench"
    return Path(os.environ.get("SYNCHUB_BENCH_CACHE", default))


def cache_key(kind: str, jobs: int, runs: int, where: str = "") -> str:
    """What the entry's data depends on: change any of it and the entry is made anew."""
    digest = hashlib.sha256(f"{kind} {jobs} {runs} {where} {head_revision()}".encode())
    for path in [Path(api_seed.__file__), *sorted((MIGRATIONS / "versions").glob("*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{jobs}j_{runs}r_{digest.hexdigest()[:12]}"


def restore(kind: str, url: str, jobs: int, runs: int, *, reseed: bool) -> dict[str, Any]:
    """Make the new, empty database at `url` (a SQLite file not made yet, or an empty
    PostgreSQL database no one is connected to) a copy of the seeded entry, seeding
    it first when missing (or `reseed`). What seeding said, and how it went."""
    base = url.rsplit("/", 1)[0]
    key = cache_key(kind, jobs, runs, base if kind == "postgresql" else "")
    with _locked(key):
        if kind == "sqlite":
            seeded, cached = _sqlite_entry(key, jobs, runs, reseed)
            start = time.perf_counter()
            _copy_sqlite(cache_dir() / f"seed-{key}.db", _file(url))
        else:
            seeded, cached = _pg_entry(base, key, jobs, runs, reseed)
            start = time.perf_counter()
            _copy_pg(base, PG_PREFIX + key, url.rsplit("/", 1)[1])
        copied_s = time.perf_counter() - start
    engine = make_engine(url)
    try:
        moved = to_present(engine, datetime.fromisoformat(seeded["at"]))
    finally:
        engine.dispose()
    return {**seeded, "cached": cached, "copy_s": copied_s, **moved}


def _file(url: str) -> Path:
    path = sqlite_file(url)
    assert path is not None, url
    return path


@contextmanager
def _locked(key: str) -> Iterator[None]:
    """One benchmark at a time makes or copies an entry."""
    private_dir(cache_dir())
    with (cache_dir() / f"seed-{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _sidecar(name: str) -> Path:
    return cache_dir() / f"{name}.json"


def _seeded(engine: Engine, jobs: int, runs: int) -> dict[str, Any]:
    upgrade(engine)
    seeded = api_seed.seed(engine, jobs, runs)
    return {**asdict(seeded), "at": seeded.at.isoformat()}


# -- SQLite ------------------------------------------------------------------------------


def _sqlite_entry(key: str, jobs: int, runs: int, reseed: bool) -> tuple[dict[str, Any], bool]:
    path, sidecar = cache_dir() / f"seed-{key}.db", _sidecar(f"seed-{key}")
    if path.exists() and sidecar.exists() and not reseed:
        return json.loads(sidecar.read_text()), True
    for old in cache_dir().glob(f"seed-{jobs}j_{runs}r_*.*"):
        if not old.name.endswith(".lock"):
            old.unlink()  # made for another schema or generator: never used again
    building = path.with_suffix(f".building-{os.getpid()}")
    engine = make_engine(f"sqlite:///{building}")
    try:
        seeded = _seeded(engine, jobs, runs)
    finally:
        engine.dispose()  # the last connection closed moves the WAL into the file
    sidecar.write_text(json.dumps(seeded))
    os.replace(building, path)
    return seeded, False


def _copy_sqlite(entry: Path, target: Path) -> None:
    private_dir(target.parent)
    shutil.copyfile(entry, target)
    target.chmod(0o600)


# -- PostgreSQL ---------------------------------------------------------------------------


def _admin(base: str) -> Any:
    import psycopg

    url = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    return psycopg.connect(url, autocommit=True)


def _pg_entry(
    base: str, key: str, jobs: int, runs: int, reseed: bool
) -> tuple[dict[str, Any], bool]:
    name, sidecar = PG_PREFIX + key, _sidecar(PG_PREFIX + key)
    with _admin(base) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found and sidecar.exists() and not reseed:
            seeded = json.loads(sidecar.read_text())
            if datetime.now(UTC) - datetime.fromisoformat(seeded["at"]) < DRIFT:
                return seeded, True
            # Older: seeding again costs the server about what moving every row of
            # a copy to the present would (each row rewritten in every index), and
            # leaves no dead rows behind.
        stale = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (f"{PG_PREFIX}{jobs}j\\_{runs}r\\_%",),
        ).fetchall()
        for (old,) in stale:  # this entry's, or one made for another schema or generator
            conn.execute(f'DROP DATABASE "{old}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}_new"')
    engine = make_engine(f"{base}/{name}_new")
    try:
        seeded = _seeded(engine, jobs, runs)
    finally:
        engine.dispose()
    sidecar.write_text(json.dumps(seeded))
    with _admin(base) as conn:
        conn.execute(f'ALTER DATABASE "{name}_new" RENAME TO "{name}"')
    return seeded, False


def _copy_pg(base: str, entry: str, target: str) -> None:
    with _admin(base) as conn:
        conn.execute(f'DROP DATABASE "{target}"')
        # FILE_COPY: a copy of the files, not a WAL record of every page
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{entry}" STRATEGY FILE_COPY')


# -- to the present ------------------------------------------------------------------------


def to_present(engine: Engine, seeded_at: datetime) -> dict[str, Any]:
    """Shift the copy's times by its age, when DRIFT or more, and reschedule its jobs."""
    age = datetime.now(UTC) - seeded_at
    if age < DRIFT:
        return {"age_s": age.total_seconds(), "shifted_s": 0, "shift_took_s": 0.0}
    start = time.perf_counter()
    seconds = int(age.total_seconds())
    with engine.begin() as conn:
        # Every table with a time, derived ones included (whatever keeps them moves too).
        for table in Base.metadata.sorted_tables:
            if any(isinstance(c.type, UtcDateTime) for c in table.c):
                conn.execute(text(_shift(table, seconds, engine.dialect.name)))
    rescheduled = api_seed.reschedule(engine, datetime.now(UTC))
    if engine.dialect.name == "postgresql":
        # as after seeding: the shift's dead rows gone, the statistics new
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    took = time.perf_counter() - start
    return {"age_s": age.total_seconds(), "shifted_s": seconds, "shift_took_s": took,
            "rescheduled": rescheduled}  # fmt: skip


def _shift(table: Table, seconds: int, dialect: str) -> str:
    times = [c.name for c in table.c if isinstance(c.type, UtcDateTime)]
    if dialect == "sqlite":
        # Stored as text with a fraction: move the whole seconds, keep the fraction
        # (SQLite's own arithmetic would round it to milliseconds, .9996 to the next second).
        sets = [f"{c} = strftime('%Y-%m-%d %H:%M:%S', substr({c}, 1, 19), '{seconds:+d} seconds') "
                f"|| substr({c}, 20)" for c in times]  # fmt: skip
    else:
        sets = [f"{c} = {c} + make_interval(secs => {seconds})" for c in times]
    return f"UPDATE {table.name} SET {', '.join(sets)}"
