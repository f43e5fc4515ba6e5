"""A large, realistic history for the API benchmark, bulk-inserted with SQLAlchemy Core
into the real schema (made by synchub's own migrations).

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

import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, text

from synchub.core.schedules import (
    Schedule,
    ScheduleKind,
    cron_schedule,
    describe,
    interval_schedule,
    next_fire,
)
from synchub.store.tables import JobRow, RunRow

#: No seeded job fires within this time of the seeding.
QUIET = timedelta(hours=2)
CHUNK = 10_000

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


def seed(engine: Engine, jobs: int, runs: int, *, seed_value: int = 1234) -> Seeded:
    """Insert `jobs` jobs and `runs` runs into an empty, migrated database."""
    rng = random.Random(seed_value)
    start = time.perf_counter()
    now = datetime.now(UTC)
    job_rows = [_job(i, now, rng) for i in range(1, jobs + 1)]
    with engine.begin() as conn:
        for chunk in _chunks(job_rows, CHUNK):
            conn.execute(insert(JobRow.__table__), chunk)
    per_day = {kind: rate for kind, _share, rate in JOB_KINDS}
    weights = [per_day[j.pop("_kind")] for j in job_rows]
    states: Counter[str] = Counter()
    triggers: Counter[str] = Counter()
    # Schema 0003 keeps each run's job name in the run (runs outlive their job).
    named = "job_name" in RunRow.__table__.c
    with engine.begin() as conn:
        for chunk in _chunks(_runs(job_rows, weights, runs, now, rng, named), CHUNK):
            states.update(r["state"] for r in chunk)
            triggers.update(r["trigger"] for r in chunk)
            conn.execute(insert(RunRow.__table__), chunk)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Explicit ids leave the sequences behind: catch them up for the writer.
            for table in ("jobs", "runs"):
                sequence = f"pg_get_serial_sequence('{table}', 'id')"
                conn.execute(text(f"SELECT setval({sequence}, max(id)) FROM {table}"))
        low, high = conn.execute(select(func.min(RunRow.id), func.max(RunRow.id))).one()
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
    )


def _chunks(
    rows: Iterator[dict[str, Any]] | list[dict[str, Any]], size: int
) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- jobs ----------------------------------------------------------------------------


def _schedule(kind: str, now: datetime, rng: random.Random) -> Schedule:
    """A schedule of `kind` whose next fire is at least QUIET away."""
    tz = rng.choice(ZONES)
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


# -- runs ------------------------------------------------------------------------------


def _runs(
    jobs: list[dict[str, Any]],
    weights: list[float],
    count: int,
    now: datetime,
    rng: random.Random,
    named: bool,
) -> Iterator[dict[str, Any]]:
    """`count` runs in creation order, ids 1..count."""
    per_day = sum(weights)
    span = timedelta(days=count / per_day)
    first = now - timedelta(hours=1) - span
    step = span / count
    picks = rng.choices(range(len(jobs)), weights=weights, k=count)
    state_names, state_shares = zip(*STATES, strict=True)
    last: dict[int, dict[str, Any]] = {}  #: each job's latest run
    for run_id, pick in enumerate(picks, start=1):
        job = jobs[pick]
        created = first + step * run_id
        previous = last.get(pick)
        state = rng.choices(state_names, weights=state_shares)[0]
        row = _run(run_id, job, created, state, rng)
        if named:
            row["job_name"] = job["name"]
        if (
            previous is not None
            and previous["state"] in RETRYABLE
            and previous["attempt"] <= job["retries"]
            and rng.random() < 0.8
        ):
            row.update(
                trigger="retry",
                attempt=previous["attempt"] + 1,
                retry_of=previous["id"],
                scheduled_for=previous["scheduled_for"],
            )
        last[pick] = row
        yield row


def _run(
    run_id: int, job: dict[str, Any], created: datetime, state: str, rng: random.Random
) -> dict[str, Any]:
    if job["schedule_kind"] == "none":
        trigger = rng.choice(("manual", "api"))
    else:
        trigger = rng.choices(("schedule", "manual", "api"), weights=(95, 3, 2))[0]
    started = None if state == "skipped" else created + timedelta(milliseconds=rng.uniform(3, 40))
    seconds = min(6 * 3600.0, rng.lognormvariate(3.7, 1.2))  # median ≈ 40 s
    finished = created if started is None else started + timedelta(seconds=seconds)
    files = rng.randrange(0, 400)
    moved = files * rng.randrange(1_000, 5_000_000)
    errors = rng.randrange(1, 20) if state == "failed" else 0
    stats = (
        None
        if started is None
        else {
            "bytes": moved,
            "files": files,
            "checks": rng.randrange(100, 50_000),
            "deletes": rng.randrange(0, 5),
            "renames": 0,
            "errors": errors,
            "elapsed_s": round(seconds, 3),
            "speed_bps": moved / seconds,
        }
    )
    return {
        "id": run_id,
        "job_id": job["id"],
        "trigger": trigger,
        "state": state,
        "reason": {"skipped": "overlap", "cancelled": "cancelled"}.get(state),
        "scheduled_for": created - timedelta(milliseconds=1.5) if trigger == "schedule" else None,
        "attempt": 1,
        "retry_of": None,
        "queue": job["queue"],
        "not_before": created,
        "created_at": created,
        "queued_at": None if started is None else created + timedelta(milliseconds=1),
        "started_at": started,
        "finished_at": finished,
        "heartbeat_at": None if started is None else finished - timedelta(milliseconds=300),
        "worker": None if started is None else rng.choice(WORKERS),
        "cancel_requested": state == "cancelled",
        "exit_code": {"succeeded": 0, "failed": rng.choice((1, 3, 5, 7))}.get(state),
        "error_class": _ERROR_CLASS.get(state),
        "error": _ERROR.get(state),
        "stats": stats,
        "progress": None,
        "log_dropped_lines": 0,
        "log_dropped_bytes": 0,
        "files_dropped": 0,
    }


_ERROR_CLASS = {"failed": "temporary", "timed_out": "timed_out", "lost": "lost"}
_ERROR = {
    "failed": "rclone exited 1: 3 errors: failed to copy: read tcp: connection reset by peer",
    "timed_out": "The job's timeout passed; the run was stopped",
    "lost": "The worker stopped sending heartbeats; the run was lost",
}
