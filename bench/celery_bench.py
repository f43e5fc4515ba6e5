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
- **throughput**, `reps` trials of each, interleaved (bare, bare + events, synchub):
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
publisher) and the PostgreSQL backends of the database is recorded per trial.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from cryptography.fernet import Fernet
from kombu import Connection
from sqlalchemy import create_engine, func, select, text, update

from bench import bare_celery, peer_celery
from bench.celery_report import summary
from bench.common import (
    REPO,
    Report,
    cpu_seconds,
    descendants,
    status_field,
    summarize,
    tree_rss_kib,
)
from bench.lateness import RUN_FIELDS, delay_ms, trend
from bench.noop_kind import NoopKind
from synchub.config import Settings
from synchub.core.clock import Clock, FakeClock
from synchub.core.runs import RunState, Trigger
from synchub.engines.registry import builtin_engines
from synchub.execution.celery_exec import broker_problem
from synchub.services import Services
from synchub.services.jobs import JobFields
from synchub.store import jobs as job_store
from synchub.store import runs as run_store
from synchub.store.db import make_engine, reading, transaction
from synchub.store.migrate import upgrade
from synchub.store.tables import RunRow

BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}
PG_ADMIN_URL = os.environ.get(
    "SYNCHUB_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: the worker options every worker of the benchmark gets
WORKER_OPTS = ["--loglevel=INFO", "--without-mingle", "--without-gossip"]
MiB = 1024
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


# -- processes -----------------------------------------------------------------------------


class Proc:
    """A worker or scheduler subprocess writing to its own log."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self.started = time.monotonic()
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, marker: str, timeout_s: float = 90.0) -> float:
        """Seconds from the start until `marker` appears in the log; raise if the process
        dies first or `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if marker in self.output():
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited {self.proc.returncode}:\n{self.output()[-3000:]}"
                )
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: no {marker!r} within {timeout_s}s")

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM to the main process (a warm shutdown), SIGKILL to its group if it
        outstays `grace_s`."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # pool processes left behind, if any
        self.proc.wait()


def tree_cpu_s(pid: int) -> float:
    total = 0.0
    for p in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError, ValueError):
            total += cpu_seconds(p)
    return total


def pss_kib(pid: int) -> int:
    """Proportional set size of `pid` (shared pages split between their users)."""
    try:
        text_ = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text_.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def memory(proc: Proc) -> dict[str, Any]:
    """RSS and PSS of a worker's main process and its pool processes, summed and each."""
    pids = [proc.pid, *descendants(proc.pid)]
    each = [
        {"pid": p, "rss_mib": status_field(p, "VmRSS") / MiB, "pss_mib": pss_kib(p) / MiB}
        for p in pids
    ]
    return {
        "processes": len(pids),
        "rss_mib": tree_rss_kib(proc.pid) / MiB,
        "pss_mib": sum(pss_kib(p) for p in pids) / MiB,
        "main_rss_mib": status_field(proc.pid, "VmRSS") / MiB,
        "each": each,
    }


def pg_backends_cpu_s(dbname: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to `dbname`."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            if cmdline.startswith("postgres:") and f" {dbname} " in cmdline:
                found[int(entry.name)] = cpu_seconds(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


class CpuMeter:
    """CPU seconds used by some processes, and by the PostgreSQL backends of one database
    (synchub's unless `dbname`), between `start` and `stop`."""

    def __init__(self, cluster: Cluster, procs: dict[str, Proc], dbname: str = "") -> None:
        self.cluster, self.procs = cluster, procs
        self.dbname = dbname or cluster.dbname
        self.before = self._read()
        self.wall = time.monotonic()

    def _read(self) -> dict[str, Any]:
        t = os.times()
        return {
            **{name: tree_cpu_s(p.pid) for name, p in self.procs.items()},
            "bench process": t.user + t.system,
            "postgresql": pg_backends_cpu_s(self.dbname),
        }

    def used(self) -> dict[str, float]:
        after = self._read()
        pg_before = self.before["postgresql"]
        used = {k: after[k] - self.before[k] for k in after if k != "postgresql"}
        used["postgresql"] = sum(
            cpu - pg_before.get(pid, 0.0) for pid, cpu in after["postgresql"].items()
        )
        used["wall"] = time.monotonic() - self.wall
        return used


# -- one broker's set-up --------------------------------------------------------------------


def peer_dbname(dbname: str) -> str:
    """The peer's database beside synchub's `dbname`."""
    return f"{dbname}_peer"


@dataclass
class Cluster:
    broker: str
    url: str
    tmp: Path
    dbname: str
    db_url: str
    key: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: dict[str, Proc] = field(default_factory=dict)
    apps: dict[str, Celery] = field(default_factory=dict)

    @property
    def queue_synchub(self) -> str:
        return f"bench-synchub-{self.tag}"

    def queue_bare(self, events: bool) -> str:
        return f"bench-bare{'-ev' if events else ''}-{self.tag}"

    @property
    def queue_peer(self) -> str:
        return f"bench-peer-{self.tag}"

    @property
    def queues(self) -> list[str]:
        return [self.queue_synchub, self.queue_bare(False), self.queue_bare(True), self.queue_peer]

    @property
    def peer_dbname(self) -> str:
        return peer_dbname(self.dbname)

    @property
    def peer_db_url(self) -> str:
        """SQLAlchemy's URL of the peer's result backend."""
        return self.db_url.rsplit("/", 1)[0] + "/" + self.peer_dbname

    def env(self) -> dict[str, str]:
        site = self.tmp / "site"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCHUB_")}
        env.update(
            SYNCHUB_HOME=str(self.tmp / "home"),
            SYNCHUB_DATABASE_URL=self.db_url,
            SYNCHUB_SECRET_KEY=self.key,
            SYNCHUB_EXECUTOR="celery",
            SYNCHUB_BROKER_URL=self.url,
            SYNCHUB_DEFAULT_TZ="UTC",
            PYTHONPATH=f"{site}{os.pathsep}{REPO}",
            PYTHONUNBUFFERED="1",
        )
        return env

    def settings(self) -> Settings:
        return Settings(
            home=self.tmp / "home",
            database_url=self.db_url,
            secret_key=self.key,
            executor="celery",
            broker_url=self.url,
            default_tz="UTC",
        )

    @contextlib.contextmanager
    def services(self, clock: Clock | None = None) -> Iterator[Services]:
        engines = {**builtin_engines(), "noop": NoopKind()}
        svc = Services(self.settings(), clock=clock, engines=engines, actor="bench")
        try:
            yield svc
        finally:
            svc.close()

    def start(self, p: Params) -> None:
        """Scheduler and workers, each ready (its log says so)."""
        env = self.env()
        py = sys.executable
        worker = ["--pool", "prefork", "--concurrency", str(p.concurrency)]
        self.procs["synchub"] = Proc(
            "synchub worker",
            [py, "-m", "synchub", "worker", "--queues", self.queue_synchub, *worker,
             "--name", f"bench-synchub-{self.tag}@%h"],
            env, self.tmp / "synchub-worker.log",
        )  # fmt: skip
        for events in (False, True):
            name = "bare + events" if events else "bare"
            bare_env = {**env, "BENCH_BROKER_URL": self.url, "BENCH_TASK_EVENTS": str(int(events))}
            self.procs[name] = Proc(
                f"{name} worker",
                [py, "-m", "celery", "-A", "bench.bare_celery", "worker",
                 "-Q", self.queue_bare(events), *worker,
                 "--hostname", f"bench-{name.replace(' + ', '-')}-{self.tag}@%h", *WORKER_OPTS],
                bare_env, self.tmp / f"{name.replace(' + ', '-')}-worker.log",
            )  # fmt: skip
        peer_env = {**env, "BENCH_BROKER_URL": self.url, "BENCH_PEER_DB_URL": self.peer_db_url}
        self.procs["peer"] = Proc(
            "peer worker",
            [py, "-m", "celery", "-A", "bench.peer_celery", "worker", "-Q", self.queue_peer,
             *worker, "--hostname", f"bench-peer-{self.tag}@%h", *WORKER_OPTS],
            peer_env, self.tmp / "peer-worker.log",
        )  # fmt: skip
        self.procs["scheduler"] = Proc(
            "scheduler", [py, "-m", "synchub", "scheduler"], env, self.tmp / "scheduler.log"
        )
        for name, proc in self.procs.items():
            proc.wait_for("took the lead" if name == "scheduler" else " ready.")

    def stop(self) -> None:
        for app in self.apps.values():
            app.close()
        # The scheduler first: nothing is published to a queue once its worker is gone.
        for name in sorted(self.procs, key=lambda n: n != "scheduler"):
            with contextlib.suppress(Exception):
                self.procs[name].stop()
        with contextlib.suppress(Exception), Connection(self.url, connect_timeout=5) as conn:
            channel: Any = conn.channel()
            try:
                for q in self.queues:
                    with contextlib.suppress(Exception):
                        channel.queue_delete(q)
            finally:
                channel.close()
        if self.broker == "redis":
            _forget_redis_bindings(self.url, self.tag)


def _forget_redis_bindings(url: str, tag: str) -> None:
    """Remove what kombu's Redis transport keeps about our queues and worker names:
    `_kombu.binding.*` and `_kombu.binding_permanent.*` sets, `_kombu.binding_deadlines`."""
    import redis

    mark = tag.encode()
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        for key in client.scan_iter("_kombu.binding*", count=500):
            if mark in key:
                client.delete(key)
                continue
            kind = client.type(key)
            if kind == b"set":
                members = [m for m in client.smembers(key) if mark in m]
                if members:
                    client.srem(key, *members)
            elif kind == b"zset":
                ranked = [
                    m for m in client.zrange(key, 0, -1) if isinstance(m, bytes) and mark in m
                ]
                if ranked:
                    client.zrem(key, *ranked)
        for key in client.scan_iter(f"bench-*-{tag}", count=500):
            client.delete(key)  # a queue's list, if anything was published after the delete
    finally:
        client.close()


@contextlib.contextmanager
def cluster(broker: str, p: Params) -> Iterator[Cluster]:
    url = BROKERS[broker]
    if (problem := broker_problem(url)) is not None:
        raise RuntimeError(f"{broker}: {problem}")
    dbname = f"synchub_bench_celery_{uuid.uuid4().hex[:10]}"
    db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    key = Fernet.generate_key().decode()
    names = [dbname, peer_dbname(dbname)]
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(db_url)
        upgrade(engine)
        engine.dispose()
        with tempfile.TemporaryDirectory(prefix="synchub-bench-celery-") as tmp:
            c = Cluster(broker, url, Path(tmp), dbname, db_url, key)
            create_peer_tables(c.peer_db_url)
            write_plugin(c.tmp / "site")
            (c.tmp / "home").mkdir()
            try:
                yield c
            finally:
                c.stop()
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def create_peer_tables(db_url: str) -> None:
    """The peer's result tables, as its backend makes them at its first write (made here
    so that its two pool processes do not race to make them during the warm-up)."""
    from celery.backends.database.session import ResultModelBase

    engine = create_engine(db_url)
    try:
        ResultModelBase.metadata.create_all(engine)
    finally:
        engine.dispose()


def write_plugin(site: Path) -> None:
    """The no-op kind as a package would install it (see `bench.lateness.add_plugin`)."""
    dist = site / "bench_noop-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-noop\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[synchub.kinds]\nnoop = bench.noop_kind:NoopKind\n")


# -- throughput ------------------------------------------------------------------------------

#: "[2026-11-23 15:33:30,643: INFO/ForkPoolWorker-2] Task bench.noop[…] succeeded in …"
SUCCEEDED = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): [^\]]*\] Task \S+ succeeded ", re.M
)


#: "[2026-11-23 15:33:30,635: INFO/MainProcess] Task synchub.run[42] received"
RECEIVED = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): [^\]]*\] Task synchub\.run\[(\d+)\] received", re.M
)


def received_at(proc: Proc) -> dict[int, str]:
    """When the worker's main process received each run's message (its log, 1 ms)."""
    return {
        int(run_id): datetime.fromtimestamp(log_time(stamp), UTC).isoformat()
        for stamp, run_id in RECEIVED.findall(proc.output())
    }


def succeeded_lines(proc: Proc) -> list[str]:
    return SUCCEEDED.findall(proc.output())


def log_time(stamp: str) -> float:
    """A Celery log timestamp (local time, ms) as a Unix time."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


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


def bare_app(c: Cluster, events: bool) -> Celery:
    """The bare app, in this process, as a publisher to the cluster's broker."""
    key = f"bare-app-{int(events)}"
    if key not in c.apps:
        c.apps[key] = bare_celery.make_app(c.url, events)
    return c.apps[key]


def wait_lines(worker: Proc, count: int, timeout_s: float) -> list[str]:
    """The worker's "succeeded" log lines, once there are `count` (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        lines = succeeded_lines(worker)
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


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


def peer_app(c: Cluster) -> Celery:
    """The peer's app, in this process, as a publisher to the cluster's broker."""
    if "peer" not in c.apps:
        c.apps["peer"] = peer_celery.make_app(c.url, c.peer_db_url)
    return c.apps["peer"]


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


def commits(dbname: str) -> int:
    """Transactions committed in `dbname` so far, as PostgreSQL's statistics have them
    (each backend reports its own within about 10 s of going idle)."""
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            found = conn.scalar(
                text("SELECT xact_commit FROM pg_stat_database WHERE datname = :name"),
                {"name": dbname},
            )
    finally:
        engine.dispose()
    return int(found or 0)


# -- latency ---------------------------------------------------------------------------------

SECOND = timedelta(seconds=1)


def latency(c: Cluster, p: Params, jobs: int, prefix: str) -> dict[str, Any]:
    """`jobs` no-op jobs every 1 s on one whole-second grid, for `latency_s` seconds;
    disabled again at the end."""
    lead = 4  # seconds from defining the jobs to the anchor: the scheduler polls every 1 s
    anchor = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead + 1)
    names = [f"{prefix}-{i:02d}" for i in range(jobs)]
    with c.services(clock=FakeClock(anchor)) as svc:
        for name in names:
            svc.jobs.add(
                name,
                JobFields(kind="noop", params={}, every="1s", retries=0, queue=c.queue_synchub),
            )
    if datetime.now(UTC) >= anchor:
        raise RuntimeError("defining the latency jobs took longer than expected")
    end = anchor + timedelta(seconds=p.latency_s)
    time.sleep(max(0.0, (anchor - datetime.now(UTC)).total_seconds()))
    meter = CpuMeter(c, {k: c.procs[k] for k in ("scheduler", "synchub")})
    time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
    cpu = meter.used()
    time.sleep(0.5)  # the fire at `end` happens before the jobs are disabled
    with c.services() as svc:
        for name in names:
            svc.jobs.set_enabled(name, False)
    time.sleep(2.0)  # the last fires' runs end
    with c.services() as svc:
        runs = scheduled_runs(svc, anchor, end)
    received = received_at(c.procs["synchub"])
    for r in runs:
        r["received_at"] = received.get(r["id"])
    ran = [r for r in runs if r["started_at"] is not None]
    stages = (("fired", "created_at"), ("queued", "queued_at"),
              ("received by the worker (its log)", "received_at"), ("started", "started_at"),
              ("finished", "finished_at"))  # fmt: skip
    delays = {
        label: summarize([delay_ms(r, key) for r in ran if r.get(key) is not None])
        for label, key in stages
    }
    by_fire: dict[str, list[float]] = {}
    for r in ran:
        by_fire.setdefault(r["scheduled_for"], []).append(delay_ms(r, "started_at"))
    if jobs > 1:
        delays["first started of a fire time"] = summarize([min(v) for v in by_fire.values()])
        delays["last started of a fire time"] = summarize([max(v) for v in by_fire.values()])
    return {
        "jobs": jobs,
        "anchor": anchor.isoformat(),
        "expected_fires": jobs * p.latency_s,
        "runs": len(runs),
        "distinct_fires": len({(r["job"], r["scheduled_for"]) for r in runs}),
        "off_grid": sum(
            (datetime.fromisoformat(r["scheduled_for"]) - anchor) % SECOND != timedelta(0)
            for r in runs
        ),
        "states": dict(Counter(r["state"] for r in runs)),
        "delays_ms": delays,
        "trend": trend(runs, anchor),
        "cpu_s": cpu,
        "samples_ms": [round(delay_ms(r, "started_at"), 3) for r in ran],
    }


def bare_latency(c: Cluster, p: Params, jobs: int, events: bool = False) -> dict[str, Any]:
    """Bare Celery's counterpart of `latency`: at every whole second for `latency_s`
    seconds, this process publishes `jobs` tasks (a perfectly punctual beat); each
    task returns the time it started. Lateness = start - the whole second."""
    worker = c.procs["bare + events" if events else "bare"]
    app = bare_app(c, events)
    queue = c.queue_bare(events)
    prefix = f"stamp-{c.tag}-{uuid.uuid4().hex[:6]}"
    stamped = re.compile(
        rf"Task bench\.stamp\[{prefix}-(\d+)-(\d+)\] succeeded in \S+: ([0-9.]+)$", re.M
    )
    anchor = int(time.time()) + 2
    published: list[float] = []
    for k in range(1, p.latency_s + 1):
        fire = anchor + k
        time.sleep(max(0.0, fire - time.time()))
        for j in range(jobs):
            app.send_task(bare_celery.STAMP, args=[fire], task_id=f"{prefix}-{k}-{j}",
                          queue=queue)  # fmt: skip
        published.append(1000 * (time.time() - fire))
    deadline = time.monotonic() + 10.0
    found: list[tuple[str, str, str]] = []
    while time.monotonic() < deadline:
        found = stamped.findall(worker.output())
        if len(found) >= jobs * p.latency_s:
            break
        time.sleep(0.1)
    late = [1000 * (float(ts) - (anchor + int(sec))) for sec, _j, ts in found]
    by_fire: dict[str, list[float]] = {}
    for (sec, _j, _ts), ms in zip(found, late, strict=True):
        by_fire.setdefault(sec, []).append(ms)
    delays = {
        "published (all of a fire time)": summarize(published),
        "started": summarize(late),
    }
    if jobs > 1:
        delays["first started of a fire time"] = summarize([min(v) for v in by_fire.values()])
        delays["last started of a fire time"] = summarize([max(v) for v in by_fire.values()])
    return {
        "jobs": jobs,
        "expected_fires": jobs * p.latency_s,
        "runs": len(found),
        "delays_ms": delays,
        "samples_ms": [round(x, 3) for x in late],
    }


def scheduled_runs(svc: Services, anchor: datetime, end: datetime) -> list[dict[str, Any]]:
    """Scheduled runs for fire times in (anchor, end], as `bench.lateness.window` gives
    them (its `all_runs` pages through the API's service, 1,000 runs a page at most)."""
    columns = {k: getattr(RunRow, "job_name" if k == "job" else k) for k in RUN_FIELDS}
    with reading(svc.sessions) as session:
        rows = session.execute(
            select(*columns.values())
            .where(
                RunRow.trigger == Trigger.SCHEDULE.value,
                RunRow.scheduled_for > anchor,
                RunRow.scheduled_for <= end,
            )
            .order_by(RunRow.id)
        ).all()
    return [
        {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in zip(columns, row, strict=True)
        }
        for row in rows
    ]


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
        peer_warm_up(c, WARM_UP)
        synchub_warm_up(c, jobs, WARM_UP)
        if p.memory_only:
            time.sleep(p.idle_s)
            warm = {name: memory(c.procs[name]) for name in workers}
            return {"memory_idle": idle, "memory_after_runs": warm}
        trials: dict[str, list[dict[str, Any]]] = {name: [] for name in workers}
        peer_commits, peer_done = commits(c.peer_dbname), time.monotonic()
        for n in range(p.reps):
            trials["bare"].append(bare_trial(c, p, events=False))
            trials["bare + events"].append(bare_trial(c, p, events=True))
            trials["peer"].append(peer_trial(c, p, n))
            peer_done = time.monotonic()
            trials["synchub"].append(synchub_trial(c, p, jobs))
        time.sleep(p.idle_s)
        after = {name: memory(c.procs[name]) for name in workers}
        time.sleep(max(0.0, peer_done + STATS_FLUSH_S - time.monotonic()))
        peer_commits = commits(c.peer_dbname) - peer_commits
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
        "peer_commits_per_task": peer_commits / (p.reps * p.runs),
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
