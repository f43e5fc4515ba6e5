"""A large, realistic history for the API and console benchmarks, bulk-inserted into the
real schema (made by synchub's own migrations): the jobs with SQLAlchemy Core, the runs
as tuples made on the fly, by `executemany` in one transaction on SQLite (no rollback
journal: the database is new, thrown away if seeding fails) and by COPY on PostgreSQL.
On SQLite the schema's triggers fire for every row, as for the runner's own writes.
PostgreSQL's COPY goes without them (its row triggers cost the server ≈ 0.5 ms a run,
most of the seeding): the jobs' summaries are then filled at once by the SQL the
migration that made them fills them with from existing runs. Either way each job's
staleness bounds are then worked out, as `synchub db upgrade` does.

Jobs: 80 % daily cron, 10 % every 6 h, 5 % weekly cron, 5 % manual-only; three time
zones; 10 % of the scheduled ones disabled; a few tags and two queues. Every enabled
job's next fire time is at least `QUIET` away, so the server's scheduler fires nothing
while the benchmark runs.

Runs: spread over the jobs by how often each fires (a 6-hourly job has 4 runs a day, a
weekly one 1/7), evenly over a history that ends an hour ago, ids in creation order as
in a live database. States: 92 % succeeded, 4 % failed, 1.5 % skipped, 1.5 % cancelled,
0.5 % timed out, 0.5 % lost; a failed, timed-out or lost run is followed by its retry
(trigger `retry`, `retry_of` set) in most cases. Finished runs carry stats and
timestamps like the runner writes them. No run is left pending, queued or running: the
benchmark's writer makes those.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sqlite3
import time
from bisect import bisect
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate, islice
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from synchub.core.schedules import (
    Schedule,
    ScheduleKind,
    cron_schedule,
    describe,
    interval_schedule,
    next_fire,
)
from synchub.store import job_summary
from synchub.store.migrate import MIGRATIONS
from synchub.store.tables import JobRow, RunRow

#: No seeded job fires within this time of the seeding.
QUIET = timedelta(hours=2)
CHUNK = 10_000
COPY_ROWS = 50_000  #: runs per transaction on PostgreSQL

#: (kind, share of the jobs, runs per day)
JOB_KINDS = (("daily", 0.80, 1.0), ("6-hourly", 0.10, 4.0), ("weekly", 0.05, 1 / 7),
             ("manual", 0.05, 0.2))  # fmt: skip
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
PREFIXES = ("photos", "mail", "home", "db-dump", "projects", "media", "scans", "configs")
TAGS = ("nightly", "photos", "nas", "offsite", "db", "critical")
#: (state, share) of the runs
STATES = (("succeeded", 0.92), ("failed", 0.04), ("skipped", 0.015), ("cancelled", 0.015),
          ("timed_out", 0.005), ("lost", 0.005))  # fmt: skip
RETRYABLE = {"failed", "timed_out", "lost"}
WORKERS = ("nas:2211:a1b2c3", "nas:2480:d4e5f6", "backup-1:911:0a0b0c")


@dataclass(frozen=True)
class Seeded:
    job_names: list[str]
    min_run_id: int
    max_run_id: int
    seconds: float  #: wall-clock time of the whole seeding
    states: dict[str, int]
    triggers: dict[str, int]
    at: datetime  #: the "now" the history was made for
    cpu_s: float = 0.0  #: this process's CPU time for it (not the database server's)


def seed(engine: Engine, jobs: int, runs: int, *, seed_value: int = 1234) -> Seeded:
    """Insert `jobs` jobs and `runs` runs into an empty, migrated database."""
    rng = random.Random(seed_value)
    start, cpu = time.perf_counter(), time.process_time()
    now = datetime.now(UTC)
    job_rows = [_job(i, now, rng) for i in range(1, jobs + 1)]
    with engine.begin() as conn:
        for chunk in _chunks(job_rows, CHUNK):
            conn.execute(insert(JobRow), chunk)
    per_day = {kind: rate for kind, _share, rate in JOB_KINDS}
    weights = [per_day[j.pop("_kind")] for j in job_rows]
    states: Counter[str] = Counter()
    triggers: Counter[str] = Counter()
    rows = _runs(job_rows, weights, runs, now, rng, states, triggers)
    if engine.dialect.name == "postgresql":
        _copy_runs(engine, map(_pg_row, rows))
    else:
        _insert_runs_sqlite(engine, map(_sqlite_row, rows))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind: catch them up for the writer.
            for table in ("jobs", "runs"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                conn.execute(text(f"SELECT setval({sequence}, max(id)) FROM {table}"))
        low, high = conn.execute(select(func.min(RunRow.id), func.max(RunRow.id))).one()
        if engine.dialect.name == "postgresql":
            _summarise_from_runs(conn)
    with Session(engine) as session, session.begin():
        job_summary.refine_stale_bounds(session, now)
    if engine.dialect.name == "postgresql":
        # A database that has lived a while has been vacuumed and analysed by autovacuum.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return Seeded(
        job_names=[j["name"] for j in job_rows],
        min_run_id=int(low or 0),
        max_run_id=int(high or 0),
        seconds=time.perf_counter() - start,
        states=dict(states),
        triggers=dict(triggers),
        at=now,
        cpu_s=time.process_time() - cpu,
    )


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


# -- jobs ----------------------------------------------------------------------------


def _schedule(kind: str, now: datetime, rng: random.Random, tz: str | None = None) -> Schedule:
    """A schedule of `kind` whose next fire is at least QUIET away (in `tz`, or a zone
    of ZONES)."""
    tz = rng.choice(ZONES) if tz is None else tz
    while True:
        minute, hour = rng.randrange(60), rng.randrange(24)
        if kind == "daily":
            schedule = cron_schedule(f"{minute} {hour} * * *", tz)
        elif kind == "weekly":
            schedule = cron_schedule(f"{minute} {hour} * * {rng.randrange(7)}", tz)
        elif kind == "6-hourly":
            first = now + QUIET + timedelta(minutes=rng.randrange(6 * 60 - 130))
            anchor = first.replace(second=0, microsecond=0) - timedelta(days=30)
            schedule = interval_schedule(6 * 3600, anchor)
        else:
            return Schedule(kind=ScheduleKind.NONE, tz=tz)
        upcoming = next_fire(schedule, now)
        if upcoming is not None and upcoming >= now + QUIET:
            return schedule


def _job(i: int, now: datetime, rng: random.Random) -> dict[str, Any]:
    kind = rng.choices([k for k, *_ in JOB_KINDS], weights=[s for _, s, _ in JOB_KINDS])[0]
    schedule = _schedule(kind, now, rng)
    name = f"{rng.choice(PREFIXES)}-{i:05d}"
    enabled = kind == "manual" or rng.random() >= 0.1
    describe(schedule)  # what the API will compute for it: fail here, not there
    created = now - timedelta(days=400) + timedelta(seconds=i)
    filters = ["- *.tmp", "- .cache/**"] if rng.random() < 0.3 else []
    return {
        "_kind": kind,
        "id": i,
        "name": name,
        "kind": "rclone",
        "params": {
            "op": rng.choice(("sync", "sync", "sync", "copy")),
            "source": f"/srv/data/{name}",
            "destination": f"/mnt/backup/{name}",
            "filters": filters,
            "options": [],
        },
        "schedule_kind": schedule.kind.value,
        "cron": schedule.cron,
        "tz": schedule.tz,
        "every_s": schedule.every_s,
        "anchor_at": schedule.anchor,
        "misfire": "once",
        "queue": "slow" if rng.random() < 0.1 else "default",
        "retries": 3,
        "retry_delay_s": 60,
        "timeout_s": rng.choice((None, None, 3600, 6 * 3600)),
        "overlap": "skip",
        "enabled": enabled,
        "tags": rng.sample(TAGS, k=rng.randrange(3)),
        "next_fire_at": next_fire(schedule, now) if enabled else None,
        "created_at": created,
        "updated_at": created,
    }


def reschedule(engine: Engine, now: datetime, *, seed_value: int = 4321) -> int:
    """Give every enabled job its next fire after `now`, as seeding at `now` would: a
    cron schedule whose next fire is within QUIET is picked again (an interval's
    anchor moves with the history). How many were picked again."""
    rng = random.Random(seed_value)
    jobs = cast(Table, JobRow.__table__)
    with engine.begin() as conn:
        rows = conn.execute(
            select(jobs.c.id, jobs.c.schedule_kind, jobs.c.cron, jobs.c.tz, jobs.c.every_s,
                   jobs.c.anchor_at)
            .where(jobs.c.enabled, jobs.c.schedule_kind != ScheduleKind.NONE.value)
        ).all()  # fmt: skip
        changes, picked = [], 0
        for row in rows:
            schedule = Schedule(ScheduleKind(row.schedule_kind), row.cron, row.tz, row.every_s,
                                row.anchor_at)  # fmt: skip
            upcoming = next_fire(schedule, now)
            if schedule.kind is ScheduleKind.CRON and (upcoming is None or upcoming < now + QUIET):
                kind = "daily" if schedule.cron and schedule.cron.endswith("* * *") else "weekly"
                schedule = _schedule(kind, now, rng, row.tz)
                upcoming, picked = next_fire(schedule, now), picked + 1
            changes.append({"b_id": row.id, "b_cron": schedule.cron, "b_next": upcoming})
        if changes:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == bindparam("b_id"))
                .values(cron=bindparam("b_cron"), next_fire_at=bindparam("b_next")),
                changes,
            )
    return picked


# -- runs ------------------------------------------------------------------------------

#: The runs' columns as generated, in this order; RUN_DEFAULTS fills the rest.
RUN_COLUMNS = (
    "id", "job_id", "job_name", "trigger", "state", "reason", "scheduled_for", "attempt",
    "retry_of", "queue", "not_before", "created_at", "queued_at", "started_at",
    "finished_at", "heartbeat_at", "worker", "cancel_requested", "exit_code",
    "error_class", "error", "stats",
)  # fmt: skip
#: Columns every seeded run has the same value in (what the runner leaves them at;
#: SQLAlchemy's JSON type stores None as JSON's null, not SQL's NULL).
RUN_DEFAULTS = {
    "progress": "null", "log_dropped_lines": 0, "log_dropped_bytes": 0, "files_dropped": 0,
    "dry_run": False, "allow_deletes": False, "resync": False, "alert_examined": False,
    "alert_long_told": False, "logs_pruned": False,
}  # fmt: skip
#: Positions in a generated run of the columns holding a time.
_TIMES = tuple(RUN_COLUMNS.index(c) for c in RUN_COLUMNS if c.endswith(("_at", "_for", "_before")))
_STATE_NAMES = tuple(name for name, _share in STATES)
_STATE_CUM = list(accumulate(share for _name, share in STATES))
_TRIGGERS = ("schedule", "manual", "api")
_TRIGGER_CUM = list(accumulate((95, 3, 2)))
_EXIT_CODES = (1, 3, 5, 7)
_REASON = {"skipped": "overlap", "cancelled": "cancelled"}


def _runs(
    jobs: list[dict[str, Any]],
    weights: list[float],
    count: int,
    now: datetime,
    rng: random.Random,
    states: Counter[str],
    triggers: Counter[str],
) -> Iterator[tuple[Any, ...]]:
    """`count` runs in creation order, ids 1..count, as RUN_COLUMNS tuples with naive
    UTC times; `states` and `triggers` count them. The random draws are those of one
    `random.Random.choices`, `choice`... call after another, in a fixed order: the
    same seed gives the same history, draw for draw."""
    per_day = sum(weights)
    span = timedelta(days=count / per_day)
    first = now.replace(tzinfo=None) - timedelta(hours=1) - span
    step = span / count
    picks = rng.choices(range(len(jobs)), weights=weights, k=count)
    last: dict[int, tuple[str, int, int, datetime | None]] = {}  #: each job's latest run
    for run_id, pick in enumerate(picks, start=1):
        job = jobs[pick]
        state = _pick(rng, _STATE_NAMES, _STATE_CUM)
        row = _run(run_id, job, first + step * run_id, state, rng)
        previous = last.get(pick)
        if (
            previous is not None
            and previous[0] in RETRYABLE
            and previous[1] <= job["retries"]
            and rng.random() < 0.8
        ):
            # trigger, scheduled_for, attempt and retry_of: those of a retry
            row = (*row[:3], "retry", state, row[5], previous[3], previous[1] + 1,
                   previous[2], *row[9:])  # fmt: skip
        last[pick] = (state, row[7], run_id, row[6])
        states[state] += 1
        triggers[row[3]] += 1
        yield row


def _pick(rng: random.Random, names: tuple[str, ...], cum: Sequence[float]) -> str:
    """`rng.choices(names, cum_weights=cum)[0]`, without building a list."""
    return names[bisect(cum, rng.random() * cum[-1], 0, len(cum) - 1)]


def _run(
    run_id: int, job: dict[str, Any], created: datetime, state: str, rng: random.Random
) -> tuple[Any, ...]:
    if job["schedule_kind"] == "none":
        trigger = rng.choice(("manual", "api"))
    else:
        trigger = _pick(rng, _TRIGGERS, _TRIGGER_CUM)
    started = None if state == "skipped" else created + timedelta(milliseconds=rng.uniform(3, 40))
    seconds = min(6 * 3600.0, rng.lognormvariate(3.7, 1.2))  # median ≈ 40 s
    finished = created if started is None else started + timedelta(seconds=seconds)
    files = rng.randrange(0, 400)
    moved = files * rng.randrange(1_000, 5_000_000)
    errors = rng.randrange(1, 20) if state == "failed" else 0
    stats = "null"
    if started is not None:
        stats = json.dumps({
            "bytes": moved, "files": files, "checks": rng.randrange(100, 50_000),
            "deletes": rng.randrange(0, 5), "renames": 0, "errors": errors,
            "elapsed_s": round(seconds, 3), "speed_bps": moved / seconds,
        })  # fmt: skip
    worker = None if started is None else rng.choice(WORKERS)
    exit_code = {"succeeded": 0, "failed": rng.choice(_EXIT_CODES)}.get(state)
    return (
        run_id, job["id"], job["name"], trigger, state, _REASON.get(state),
        created - timedelta(milliseconds=1.5) if trigger == "schedule" else None, 1, None,
        job["queue"], created, created, None if started is None else created + _MS,
        started, finished, None if started is None else finished - _BEAT, worker,
        state == "cancelled", exit_code, _ERROR_CLASS.get(state), _ERROR.get(state), stats,
    )  # fmt: skip


_MS = timedelta(milliseconds=1)
_BEAT = timedelta(milliseconds=300)
_ERROR_CLASS = {"failed": "temporary", "timed_out": "timed_out", "lost": "lost"}
_ERROR = {
    "failed": "rclone exited 1: 3 errors: failed to copy: read tcp: connection reset by peer",
    "timed_out": "The job's timeout passed; the run was stopped",
    "lost": "The worker stopped sending heartbeats; the run was lost",
}


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Times as SQLAlchemy stores them in SQLite (naive UTC, always six digits)."""
    out = list(row)
    for i in _TIMES:
        if out[i] is not None:
            out[i] = out[i].isoformat(" ", "microseconds")
    out += RUN_DEFAULTS.values()
    return tuple(out)


def _pg_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    out = list(row)
    for i in _TIMES:
        if out[i] is not None:
            out[i] = out[i].isoformat(" ", "microseconds") + "+00"
    out += RUN_DEFAULTS.values()
    return tuple(out)


def _columns() -> str:
    return ", ".join((*RUN_COLUMNS, *RUN_DEFAULTS))


def _summarise_from_runs(conn: Any) -> None:
    """Fill the jobs' summaries from their runs by the migration's own backfill."""
    (path,) = (MIGRATIONS / "versions").glob("*_job_summaries.py")
    spec = importlib.util.spec_from_file_location("job_summaries_migration", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    conn.execute(text("DELETE FROM job_summaries"))
    conn.execute(text("ANALYZE runs"))  # as the migration does, for the same reason
    for statement in migration._backfill("postgresql"):
        conn.exec_driver_sql(statement)


def _insert_runs_sqlite(engine: Engine, rows: Iterator[tuple[Any, ...]]) -> None:
    """One transaction on a connection of its own, with no rollback journal: the
    database is new and thrown away if this fails, so a crash loses nothing."""
    path = engine.url.database
    assert path, "an in-memory database cannot be seeded from another connection"
    engine.dispose()  # leaving journal mode WAL needs the only connection
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if conn.execute("PRAGMA journal_mode=OFF").fetchone()[0] != "off":
            raise RuntimeError(f"{path} is in use: cannot seed it")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1048576")  # 1 GiB: the indexes stay in memory
        conn.execute("PRAGMA foreign_keys=ON")
        marks = ", ".join("?" * (len(RUN_COLUMNS) + len(RUN_DEFAULTS)))
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO runs ({_columns()}) VALUES ({marks})", rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")  # what synchub's connections expect
    finally:
        conn.close()


def _copy_runs(engine: Engine, rows: Iterator[tuple[Any, ...]]) -> None:
    """COPY, a transaction every COPY_ROWS rows, the row triggers off (the replica
    role: the seed's rows are consistent, the summaries filled afterwards)."""
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        assert pg is not None
        pg.execute("SET session_replication_role = replica")
        statement = f"COPY runs ({_columns()}) FROM STDIN"
        while chunk := list(islice(rows, COPY_ROWS)):
            with pg.cursor() as cursor, cursor.copy(statement) as copy:
                for row in chunk:
                    copy.write_row(row)
            pg.commit()
    finally:
        raw.invalidate()  # never back to the pool with the triggers off
        raw.close()
