"""synchub on Celery against bare Celery and its recording peer: throughput, fire latency
and idle memory.

For each broker (Redis, then RabbitMQ), on a throw-away PostgreSQL database and with
queue names of its own:

- **workers**: one `synchub worker` and one bare Celery worker of `bench.bare_celery`
  (and a second bare one with task events on, as synchub has them), and one worker of
  `bench.peer_celery`, the peer: Celery with a PostgreSQL result backend (a database of
  its own), `task_track_started` and late acks, which writes each task when it starts
  and when it ends, as synchub writes each run; all
  `--pool prefork --concurrency 2 --loglevel INFO --without-mingle --without-gossip`,
  late acks and a prefetch of one; a `synchub scheduler` process beside them.
- **idle memory**: `idle_s` seconds after each worker says " ready.", the RSS (and
  PSS) of its main process and its pool processes, summed from /proc; again once
  the throughput trials are done and the workers idle again. `memory_only`: nothing
  else, and the second reading after a few warm-up runs or tasks instead.
- **throughput**, `reps` trials of each, interleaved (bare, bare + events, peer, synchub):
  synchub: `runs` pending runs of a no-op plug-in kind (over 20 manual jobs whose
  overlap policy allows parallel runs) are inserted with `not_before` an hour away,
  then in one UPDATE made due at a moment T 1.5 s ahead (longer than the scheduler's
  poll interval, so the idle scheduler wakes exactly at T). Runs per second =
  runs / (last `finished_at` − T), all from the database. Bare Celery: the benchmark
  publishes `runs` no-op tasks with `apply_async` and stops the clock at the
  timestamp of the worker's last "succeeded" log line (no result backend). The peer:
  published the same way; its tasks counted as SUCCESS rows in its result backend, the
  clock stopped at the last row's `date_done`. Its database's commits per task (two: the
  STARTED row, then SUCCESS) are read from `pg_stat_database` once the trials are done.
- **latency**: `latency_jobs` no-op jobs every 1 s, all anchored on one whole second,
  for `latency_s` seconds through the scheduler and the synchub worker; per run
  `started_at − scheduled_for` (and the stages before it) from the database, plus
  the drift check of `bench.lateness` (per-10-s medians, slope).

The CPU time of the scheduler, the workers (main + pool), this process (the bare
publisher) and the PostgreSQL backends of the database (the peer's for the peer) is
recorded per trial.

The processes and databases are set up by `bench.celery_cluster`, the latency loads run
by `bench.celery_latency`, the summary and the goals written by `bench.celery_report`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, func, select, text, update

from bench import bare_celery, peer_celery
from bench.celery_cluster import (
    Cluster,
    CpuMeter,
    bare_app,
    cluster,
    log_time,
    memory,
    peer_app,
    succeeded_lines,
    wait_lines,
)
from bench.celery_latency import bare_latency, latency
from bench.celery_report import summary
from bench.common import Report
from synchub.core.runs import RunState, Trigger
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import jobs as job_store
from synchub.store import runs as run_store
from synchub.store.db import reading, transaction
from synchub.store.tables import RunRow

WARM_UP = 10  #: tasks or runs each worker does before the throughput trials
#: an idle PostgreSQL backend reports its statistics within 10 s
STATS_FLUSH_S = 11.0


@dataclass(frozen=True)
class Params:
    runs: int = 2000  #: per throughput trial
    reps: int = 3  #: throughput trials per system and broker, interleaved
    jobs: int = 20  #: the throughput runs are spread over this many manual jobs
    latency_jobs: int = 10
    latency_s: int = 30
    idle_s: float = 10.0  #: seconds after " ready." before memory is read
    concurrency: int = 2
    brokers: tuple[str, ...] = ("redis", "rabbitmq")
    lead_s: float = 1.5  #: from making the runs due (one UPDATE) to T, when they are
    timeout_s: float = 300.0  #: the longest wait for one trial's work to end
    memory_only: bool = False  #: only idle memory, before and after the warm-up runs


FULL = Params()
QUICK = Params(runs=200, reps=1, jobs=5, latency_jobs=3, latency_s=5, idle_s=3.0)


# -- throughput ------------------------------------------------------------------------------


def define_throughput_jobs(c: Cluster, p: Params) -> list[str]:
    names = [f"tp-{i:02d}" for i in range(p.jobs)]
    with c.services() as svc:
        for name in names:
            svc.jobs.add(
                name,
                JobFields(kind="noop", params={}, manual=True, overlap="allow", retries=0,
                          queue=c.queue_synchub),
            )  # fmt: skip
    return names


def create_runs(svc: Services, jobs: list[str], n: int, not_before: datetime) -> list[int]:
    """`n` pending runs over `jobs`, in one transaction."""
    with transaction(svc.sessions) as session:
        rows = [job_store.get(session, name) for name in jobs]
        ids = []
        for i in range(n):
            job = rows[i % len(rows)]
            assert job is not None
            run_id = run_store.create(
                session, job, trigger=Trigger.API, now=datetime.now(UTC), not_before=not_before
            )
            assert run_id is not None
            ids.append(run_id)
    return ids


def count_finished(svc: Services, lo: int, hi: int) -> int:
    with reading(svc.sessions) as session:
        return int(
            session.scalar(
                select(func.count(RunRow.id)).where(
                    RunRow.id.between(lo, hi), RunRow.finished_at.is_not(None)
                )
            )
            or 0
        )


def synchub_warm_up(c: Cluster, jobs: list[str], n: int) -> None:
    """A few runs first: the scheduler's broker connection and both pool processes'
    services and runner are made on first use."""
    with c.services() as svc:
        ids = create_runs(svc, jobs, n, datetime.now(UTC))
        deadline = time.monotonic() + 30.0
        while count_finished(svc, min(ids), max(ids)) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"synchub worker: warm-up runs not done:\n{c.procs['synchub'].output()[-3000:]}"
                )
            time.sleep(0.1)


def synchub_trial(c: Cluster, p: Params, jobs: list[str]) -> dict[str, Any]:
    far = datetime.now(UTC) + timedelta(hours=1)
    with c.services() as svc:
        start = time.perf_counter()
        ids = create_runs(svc, jobs, p.runs, far)
        insert_s = time.perf_counter() - start
        lo, hi = min(ids), max(ids)
        meter = CpuMeter(c, {k: c.procs[k] for k in ("scheduler", "synchub")})
        due = datetime.now(UTC) + timedelta(seconds=p.lead_s)
        with transaction(svc.sessions) as session:
            session.execute(update(RunRow).where(RunRow.id.between(lo, hi)).values(not_before=due))
        if datetime.now(UTC) > due - timedelta(seconds=0.5):
            raise RuntimeError("making the runs due took longer than expected")
        deadline = time.monotonic() + p.lead_s + p.timeout_s
        in_batch = RunRow.id.between(lo, hi)
        while count_finished(svc, lo, hi) < p.runs and time.monotonic() < deadline:
            time.sleep(0.1)
        cpu = meter.used()
        with reading(svc.sessions) as session:
            runs = session.execute(
                select(RunRow.state, RunRow.queued_at, RunRow.started_at, RunRow.finished_at).where(
                    in_batch
                )
            ).all()
    states = Counter(r.state for r in runs)
    finished = [r.finished_at for r in runs if r.finished_at is not None]
    queued = [r.queued_at for r in runs if r.queued_at is not None]
    started = [r.started_at for r in runs if r.started_at is not None]
    elapsed = (max(finished) - due).total_seconds() if finished else float("nan")
    ok = states.get(RunState.SUCCEEDED.value, 0)
    return {
        "runs": p.runs,
        "succeeded": ok,
        "states": dict(states),
        "complete": ok == p.runs,
        "insert_s": insert_s,
        "elapsed_s": elapsed,
        "per_s": ok / elapsed if finished else 0.0,
        "first_queued_s": (min(queued) - due).total_seconds() if queued else None,
        "last_queued_s": (max(queued) - due).total_seconds() if queued else None,
        "first_started_s": (min(started) - due).total_seconds() if started else None,
        "last_started_s": (max(started) - due).total_seconds() if started else None,
        "cpu_s": cpu,
    }


def bare_warm_up(c: Cluster, events: bool, n: int) -> None:
    """A few tasks first, so the publisher's connection and both pool processes are warm
    (as synchub's are after `synchub_warm_up`)."""
    worker = c.procs["bare + events" if events else "bare"]
    before = len(succeeded_lines(worker))
    app = bare_app(c, events)
    for i in range(n):
        app.send_task(bare_celery.TASK, args=[i], queue=c.queue_bare(events))
    if len(wait_lines(worker, before + n, 30.0)) < before + n:
        raise RuntimeError(f"bare worker: warm-up tasks not done:\n{worker.output()[-2000:]}")


def bare_trial(c: Cluster, p: Params, events: bool) -> dict[str, Any]:
    name = "bare + events" if events else "bare"
    worker = c.procs[name]
    app = bare_app(c, events)
    before = len(succeeded_lines(worker))
    meter = CpuMeter(c, {name: worker})
    start = time.time()
    for i in range(p.runs):
        app.send_task(bare_celery.TASK, args=[i], queue=c.queue_bare(events))
    published = time.time() - start
    lines = wait_lines(worker, before + p.runs, p.timeout_s)[before:]
    cpu = meter.used()
    end = max((log_time(s) for s in lines), default=float("nan"))
    elapsed = end - start
    return {
        "runs": p.runs,
        "succeeded": len(lines),
        "complete": len(lines) >= p.runs,
        "publish_s": published,
        "elapsed_s": elapsed,
        "per_s": len(lines) / elapsed if lines else 0.0,
        "cpu_s": cpu,
    }


def peer_send(c: Cluster, prefix: str, n: int) -> None:
    app = peer_app(c)
    for i in range(n):
        app.send_task(peer_celery.TASK, args=[i], task_id=f"{prefix}-{i}", queue=c.queue_peer)


def peer_recorded(c: Cluster, prefix: str) -> tuple[int, float]:
    """The SUCCESS rows of tasks whose ids start with `prefix` in the peer's result
    backend, and the latest `date_done` among them as a Unix time (nan if none)."""
    engine = create_engine(c.peer_db_url)
    try:
        with engine.connect() as conn:
            # date_done is a timestamp without time zone, written in the session's zone
            row = conn.execute(
                text(
                    "SELECT count(*), extract(epoch FROM max(date_done) AT TIME ZONE "
                    "current_setting('TimeZone')) FROM celery_taskmeta "
                    "WHERE status = 'SUCCESS' AND task_id LIKE :prefix"
                ),
                {"prefix": f"{prefix}-%"},
            ).one()
    finally:
        engine.dispose()
    return int(row[0]), float(row[1]) if row[1] is not None else float("nan")


def peer_warm_up(c: Cluster, n: int) -> None:
    """A few tasks first: each pool process makes its engine and connection at its first
    task, and the publisher its connection."""
    worker = c.procs["peer"]
    prefix = f"peer-warm-{c.tag}"
    peer_send(c, prefix, n)
    deadline = time.monotonic() + 30.0
    while peer_recorded(c, prefix)[0] < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"peer worker: warm-up tasks not done:\n{worker.output()[-2000:]}")
        time.sleep(0.1)


def peer_trial(c: Cluster, p: Params, n: int) -> dict[str, Any]:
    """The `n`-th trial: `p.runs` tasks published, counted as SUCCESS rows."""
    worker = c.procs["peer"]
    prefix = f"peer-{c.tag}-{n}"
    before = len(succeeded_lines(worker))
    meter = CpuMeter(c, {"peer": worker}, dbname=c.peer_dbname)
    start = time.time()
    peer_send(c, prefix, p.runs)
    published = time.time() - start
    # the worker logs "succeeded" once the task's SUCCESS row is committed
    wait_lines(worker, before + p.runs, p.timeout_s)
    cpu = meter.used()
    recorded, end = peer_recorded(c, prefix)
    elapsed = end - start
    return {
        "runs": p.runs,
        "succeeded": recorded,
        "complete": recorded >= p.runs,
        "publish_s": published,
        "elapsed_s": elapsed,
        "per_s": recorded / elapsed if recorded else 0.0,
        "cpu_s": cpu,
    }


def peer_writes(c: Cluster) -> dict[str, int]:
    """What the peer's database has done so far, by PostgreSQL's statistics (each backend
    reports its own within about 10 s of going idle): transactions committed, and rows
    inserted (a task's STARTED) and updated (its SUCCESS) in Celery's task table."""
    engine = create_engine(c.peer_db_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT d.xact_commit, t.n_tup_ins, t.n_tup_upd FROM pg_stat_database d, "
                    "pg_stat_user_tables t WHERE d.datname = current_database() "
                    "AND t.relname = 'celery_taskmeta'"
                )
            ).one()
    finally:
        engine.dispose()
    return {"commits": int(row[0]), "inserts": int(row[1]), "updates": int(row[2])}


# -- the benchmark ---------------------------------------------------------------------------


def run_broker(broker: str, p: Params) -> dict[str, Any]:
    with cluster(broker, p) as c:
        c.start(p)
        time.sleep(p.idle_s)
        workers = ("synchub", "bare", "bare + events", "peer")
        idle = {name: memory(c.procs[name]) for name in (*workers, "scheduler")}
        jobs = define_throughput_jobs(c, p)
        bare_warm_up(c, False, WARM_UP)
        bare_warm_up(c, True, WARM_UP)
        peer_before = peer_writes(c)  # its worker has written nothing yet
        peer_warm_up(c, WARM_UP)
        synchub_warm_up(c, jobs, WARM_UP)
        if p.memory_only:
            time.sleep(p.idle_s)
            warm = {name: memory(c.procs[name]) for name in workers}
            return {"memory_idle": idle, "memory_after_runs": warm}
        trials: dict[str, list[dict[str, Any]]] = {name: [] for name in workers}
        peer_done = time.monotonic()
        for n in range(p.reps):
            trials["bare"].append(bare_trial(c, p, events=False))
            trials["bare + events"].append(bare_trial(c, p, events=True))
            trials["peer"].append(peer_trial(c, p, n))
            peer_done = time.monotonic()
            trials["synchub"].append(synchub_trial(c, p, jobs))
        time.sleep(p.idle_s)
        after = {name: memory(c.procs[name]) for name in workers}
        time.sleep(max(0.0, peer_done + STATS_FLUSH_S - time.monotonic()))
        peer_after = peer_writes(c)
        tasks = WARM_UP + p.reps * p.runs
        lat = {
            "1 job": latency(c, p, 1, "single"),
            f"{p.latency_jobs} jobs": latency(c, p, p.latency_jobs, "every"),
        }
        bare_lat = {
            "1 task": bare_latency(c, p, 1),
            f"{p.latency_jobs} tasks": bare_latency(c, p, p.latency_jobs),
        }
        sh_log = succeeded_lines(c.procs["synchub"])
    return {
        "queues": c.queues,
        "memory_idle": idle,
        "memory_after_runs": after,
        "throughput": trials,
        "peer_writes_per_task": {k: (v - peer_before[k]) / tasks for k, v in peer_after.items()},
        "synchub_worker_succeeded_lines": len(sh_log),
        "latency": lat,
        "bare_latency": bare_lat,
    }


def run(
    quick: bool,
    *,
    runs: int | None = None,
    reps: int | None = None,
    latency_s: int | None = None,
    brokers: tuple[str, ...] = (),
    memory_only: bool = False,
) -> Report:
    p = QUICK if quick else FULL
    changes = {
        "runs": runs,
        "reps": reps,
        "latency_s": latency_s,
        "brokers": brokers or None,
        "memory_only": memory_only or None,
    }
    p = replace(p, **{k: v for k, v in changes.items() if v is not None})
    results = {broker: run_broker(broker, p) for broker in p.brokers}
    return Report("celery", asdict(p), {"brokers": results}, summary(p, results, WARM_UP))
