"""The benchmarks' seeded history (bench/api_seed.py) and its cache (bench/seed_cache.py),
at a tiny scale, on each database: the rows go through synchub's real schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, func, select, text, update

from bench import api_seed, seed_cache
from synchub.store.db import make_engine
from synchub.store.tables import JobRow, RunRow
from tests.conftest import PG_ADMIN_URL

JOBS, RUNS = 40, 600
RUNS_TABLE = cast(Table, RunRow.__table__)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache; on PostgreSQL its entries are dropped afterwards."""
    where = tmp_path / "cache"
    monkeypatch.setenv("SYNCHUB_BENCH_CACHE", str(where))
    yield where
    for sidecar in where.glob(f"{seed_cache.PG_PREFIX}*.json"):
        import psycopg

        admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{sidecar.stem}" WITH (FORCE)')


def _counts(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            grouped = select(RunRow.state, func.count()).group_by(RunRow.state)
            states = dict(conn.execute(grouped).all())
            return {
                "jobs": conn.execute(select(func.count()).select_from(JobRow)).scalar(),
                "runs": conn.execute(select(func.count()).select_from(RunRow)).scalar(),
                "ids": tuple(conn.execute(select(func.min(RunRow.id), func.max(RunRow.id))).one()),
                "states": states,
            }
    finally:
        engine.dispose()


def test_the_seeded_rows_are_those_counted(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        seeded = api_seed.seed(engine, JOBS, RUNS)
        with engine.connect() as conn:
            retries = conn.execute(
                select(RunRow.id, RunRow.job_id, RunRow.retry_of).where(RunRow.trigger == "retry")
            ).all()
            of = dict(conn.execute(select(RunRow.id, RunRow.job_id)).all())
            newest = conn.execute(select(func.max(RunRow.created_at))).scalar()
    finally:
        engine.dispose()
    counts = _counts(db_url)
    assert counts["jobs"] == JOBS == len(seeded.job_names)
    assert counts["runs"] == RUNS == sum(seeded.states.values()) == sum(seeded.triggers.values())
    assert counts["ids"] == (1, RUNS) == (seeded.min_run_id, seeded.max_run_id)
    assert counts["states"] == seeded.states
    assert len(retries) == seeded.triggers["retry"] > 0
    assert all(r.retry_of < r.id and of[r.retry_of] == r.job_id for r in retries)
    # The history ends an hour before the seeding, read back as aware UTC.
    assert newest is not None
    assert timedelta(minutes=59) < seeded.at - newest < timedelta(minutes=61)


def test_a_cached_copy_is_the_seeded_one(db_url: str, cache: Path) -> None:
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    first = seed_cache.restore(kind, db_url, JOBS, RUNS, reseed=False)
    made = _counts(db_url)
    again = seed_cache.restore(kind, db_url, JOBS, RUNS, reseed=False)
    assert (first["cached"], again["cached"]) == (False, True)
    assert _counts(db_url) == made
    assert made["runs"] == RUNS and made["states"] == first["states"] == again["states"]
    assert again["job_names"] == first["job_names"]
    fresh = seed_cache.restore(kind, db_url, JOBS, RUNS, reseed=True)
    assert not fresh["cached"] and _counts(db_url) == made


def test_an_old_copy_is_moved_to_the_present(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        seeded = api_seed.seed(engine, JOBS, RUNS)
        times = select(RUNS_TABLE.c.created_at, RUNS_TABLE.c.finished_at).order_by(RunRow.id)
        with engine.begin() as conn:
            # A fraction that SQLite's date arithmetic would round up to the next second
            end = datetime(2026, 1, 1, 23, 59, 59, 999700, tzinfo=UTC)
            conn.execute(update(RunRow).where(RunRow.id == 1).values(created_at=end))
            before = conn.execute(times).all()
            # As if seeded two days ago: every time two days earlier.
            for table in (cast(Table, JobRow.__table__), RUNS_TABLE):
                conn.execute(text(seed_cache._shift(table, -2 * 86400, engine.dialect.name)))
        moved = seed_cache.to_present(engine, seeded.at - timedelta(days=2))
        with engine.connect() as conn:
            after = conn.execute(times).all()
            fires = conn.execute(select(JobRow.next_fire_at).where(JobRow.enabled)).scalars()
            soonest = min(f for f in fires if f is not None)
    finally:
        engine.dispose()
    assert moved["shifted_s"] >= 2 * 86400
    late = timedelta(seconds=moved["shifted_s"] - 2 * 86400)
    # Whole seconds moved, microseconds kept: each time where it was, give or take
    # the seconds the test took.
    assert all(a == (b[0] + late, b[1] + late) for a, b in zip(after, before, strict=True))
    assert late < timedelta(minutes=1)
    assert soonest >= datetime.now(UTC) + api_seed.QUIET - timedelta(minutes=1)


def test_each_jobs_summary_is_that_of_its_seeded_runs(db_url: str) -> None:
    """SQLite's seed fills the summaries by the triggers, PostgreSQL's by the migration's
    backfill after a COPY without them: both give what the runs say."""
    engine = make_engine(db_url)
    try:
        api_seed.seed(engine, JOBS, RUNS)
        with engine.connect() as conn:
            job_ids = conn.execute(select(JobRow.id)).scalars().all()
            runs = conn.execute(
                select(RunRow.job_id, RunRow.id, RunRow.state, RunRow.dry_run).order_by(RunRow.id)
            ).all()
            found = {
                tuple(row[:5])
                for row in conn.execute(
                    text(
                        "SELECT job_id, last_id, last_state, success_id, failing_id "
                        "FROM job_summaries"
                    )
                )
            }
    finally:
        engine.dispose()
    expected: dict[int, list[Any]] = {j: [j, None, None, None, None] for j in job_ids}
    for job_id, run_id, state, dry_run in runs:
        summary = expected[job_id]
        if state in ("succeeded", "failed", "timed_out", "lost", "cancelled"):
            summary[1:3] = [run_id, state]
        if state == "succeeded" and not dry_run:
            summary[3:5] = [run_id, None]
        elif state in ("failed", "timed_out", "lost") and summary[4] is None:
            summary[4] = run_id
    assert found == {tuple(s) for s in expected.values()}
    assert len(found) == JOBS
