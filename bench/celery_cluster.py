"""The processes of `python -m bench celery` for one broker: a throw-away PostgreSQL
database (and one for the peer's result backend), the synchub scheduler and worker, the
bare and peer Celery workers, their logs, memory and CPU time, and the publishing apps
this process uses."""

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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery import Celery
from cryptography.fernet import Fernet
from kombu import Connection
from sqlalchemy import create_engine, text

from bench import bare_celery, peer_celery
from bench.common import REPO, cpu_seconds, descendants, status_field, tree_rss_kib
from bench.noop_kind import NoopKind
from synchub.config import Settings
from synchub.core.clock import Clock
from synchub.engines.registry import builtin_engines
from synchub.execution.celery_exec import broker_problem
from synchub.services import Services
from synchub.store.db import make_engine
from synchub.store.migrate import upgrade

if TYPE_CHECKING:
    from bench.celery_bench import Params

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


#: "[2026-11-23 15:33:30,643: INFO/ForkPoolWorker-2] Task bench.noop[…] succeeded in …"
SUCCEEDED = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): [^\]]*\] Task \S+ succeeded ", re.M
)


def succeeded_lines(proc: Proc) -> list[str]:
    return SUCCEEDED.findall(proc.output())


def log_time(stamp: str) -> float:
    """A Celery log timestamp (local time, ms) as a Unix time."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def wait_lines(worker: Proc, count: int, timeout_s: float) -> list[str]:
    """The worker's "succeeded" log lines, once there are `count` (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        lines = succeeded_lines(worker)
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def bare_app(c: Cluster, events: bool) -> Celery:
    """The bare app, in this process, as a publisher to the cluster's broker."""
    key = f"bare-app-{int(events)}"
    if key not in c.apps:
        c.apps[key] = bare_celery.make_app(c.url, events)
    return c.apps[key]


def peer_app(c: Cluster) -> Celery:
    """The peer's app, in this process, as a publisher to the cluster's broker."""
    if "peer" not in c.apps:
        c.apps["peer"] = peer_celery.make_app(c.url, c.peer_db_url)
    return c.apps["peer"]
