"""A real distributed synchub: PostgreSQL, a real broker (Redis or RabbitMQ), `synchub
worker` processes, and a scheduler in the test process, all on this machine.

Each test gets its own database and its own queue, so leftovers on the shared broker
never reach it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.fernet import Fernet
from kombu import Connection
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from synchub.config import Settings
from synchub.core.runs import TERMINAL, RunState
from synchub.engines.registry import builtin_engines
from synchub.execution.celery_exec import broker_problem
from synchub.processes.node import Node
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from synchub.store.db import make_engine
from synchub.store.migrate import upgrade
from tests.conftest import _pg_url, need_service
from tests.support.marking import MarkKind
from tests.support.pg_clones import Clones
from tests.support.plugin import write_plugin
from tests.support.private_pg import PrivateCluster
from tests.support.private_pg import missing as private_pg_missing
from tests.support.proxy import TcpProxy

REPO = Path(__file__).resolve().parents[2]
BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(params=list(BROKERS))
def broker(request: pytest.FixtureRequest) -> str:
    """Each broker's URL (Redis, RabbitMQ); skipped (or failed in CI) when it is down."""
    url = BROKERS[request.param]
    if (problem := broker_problem(url)) is not None:
        need_service(request.param, problem)
    return url


@pytest.fixture
def proxy(broker: str) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the broker, for cutting it off."""
    parts = urlsplit(broker)
    p = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 0))
    yield p
    p.cut()


def through(broker: str, proxy: TcpProxy) -> str:
    """The broker's URL, reaching it through `proxy`."""
    parts = urlsplit(broker)
    return urlunsplit(
        parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{proxy.port}"))
    )


@pytest.fixture
def pg_url(pg_clones: Clones) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, cloned from the template; its URL."""
    name = pg_clones.take()
    yield _pg_url(name)
    pg_clones.drop(name)


class Worker:
    """One `synchub worker` process; its output goes to `log`."""

    def __init__(self, env: dict[str, str], log: Path, args: list[str]) -> None:
        self.log = log
        self.name = args[args.index("--name") + 1]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "synchub", "worker", *args],
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> Worker:
        def ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited with {self.proc.returncode}:\n{self.output()}")
            return " ready." in self.output()

        wait_for(f"worker {self.name} to be ready", ready, timeout)
        return self

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Cluster:
    """The settings, services, workers and scheduler of one distributed synchub."""

    def __init__(self, tmp: Path, pg_url: str, broker: str) -> None:
        self.tmp = tmp
        self.broker = broker
        self.queue = f"q-{uuid.uuid4().hex[:10]}"
        self.marks = tmp / "marks"
        self.marks.mkdir()
        site = write_plugin(tmp / "site", "mark_kind", "tests.support.marking:MarkKind", "mark")
        key = Fernet.generate_key().decode()
        self.env = {
            **os.environ,
            "SYNCHUB_HOME": str(tmp / "home"),
            "SYNCHUB_DATABASE_URL": pg_url,
            "SYNCHUB_SECRET_KEY": key,
            "SYNCHUB_EXECUTOR": "celery",
            "SYNCHUB_BROKER_URL": broker,
            "SYNCHUB_RUN_LEASE": "3",
            "SYNCHUB_ALLOW_COMMAND_JOBS": "1",
            "PYTHONPATH": f"{site}{os.pathsep}{REPO}",
        }
        self.settings = Settings(
            home=tmp / "home",
            database_url=pg_url,
            secret_key=key,
            executor="celery",
            broker_url=broker,
            run_lease=3,
            scheduler_lease=3,
            poll_interval=0.2,
            requeue_after=3,
            allow_command_jobs=True,
        )
        engines = builtin_engines()
        engines["mark"] = MarkKind()
        self.svc = Services(self.settings, engines=engines, actor="test")
        self.workers: list[Worker] = []
        self.node: Node | None = None

    def worker(self, *args: str, queues: str | None = None, env: dict[str, str] | None = None,
               ready: bool = True) -> Worker:  # fmt: skip
        name = f"w{len(self.workers)}-{uuid.uuid4().hex[:6]}@%h"
        argv = ["--queues", queues or self.queue, "--name", name, *args]
        log = self.tmp / f"worker-{len(self.workers)}.log"
        worker = Worker({**self.env, **(env or {})}, log, argv)
        self.workers.append(worker)
        return worker.wait_ready() if ready else worker

    def scheduler_process(self, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """A `synchub scheduler` process with `env`; its output goes to scheduler-NAME.log."""
        with (self.tmp / f"scheduler-{name}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "synchub", "scheduler"],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def start_scheduler(self) -> Node:
        self.node = Node(self.svc, workers=1, scheduler_on=True, pool=False)
        self.node.start()
        return self.node

    def mark_job(self, name: str, seconds: float = 0.0, **params: Any) -> str:
        fields = {k: params.pop(k) for k in list(params) if k in JobFields.__dataclass_fields__}
        spec = JobFields(
            kind="mark",
            params={"marks": str(self.marks), "seconds": seconds, **params},
            queue=fields.pop("queue", self.queue),
            **fields,
        )
        self.svc.jobs.add(name, spec)
        return name

    def command_job(self, name: str, argv: list[str], **fields: Any) -> str:
        spec = JobFields(kind="command", params={"argv": argv}, queue=self.queue, **fields)
        self.svc.jobs.add(name, spec)
        return name

    def run(self, job: str) -> int:
        return self.svc.runs.request(job)

    def state(self, run_id: int) -> str:
        return str(self.svc.runs.show(run_id).state)

    def wait_state(self, run_id: int, *states: RunState, timeout: float = 60) -> RunView:
        wanted = {s.value for s in states} or {s.value for s in TERMINAL}

        def reached() -> RunView | None:
            run = self.svc.runs.show(run_id)
            return run if run.state in wanted else None

        result: RunView = wait_for(f"run {run_id} to reach {sorted(wanted)}", reached,
                                          timeout)  # fmt: skip
        return result

    def close(self) -> None:
        if self.node is not None:
            self.node.stop(0)
        for worker in self.workers:
            worker.stop()
        self.svc.close()
        with Connection(self.broker, connect_timeout=5) as conn:
            channel = conn.channel()
            try:
                channel.queue_delete(self.queue)
            finally:
                channel.close()


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str, broker: str) -> Iterator[Cluster]:
    """A distributed synchub over pg_url and the broker; workers start on demand."""
    c = Cluster(tmp_path, pg_url, broker)
    yield c
    c.close()


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of these tests' own, which they may stop and start: never
    the shared one (other tests use it meanwhile)."""
    if (problem := private_pg_missing()) is not None:
        need_service("a private PostgreSQL cluster", problem)
    cluster = PrivateCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def private_db(private_pg: PrivateCluster) -> Iterator[str]:
    """A fresh, migrated database on the private cluster; its name."""
    if not private_pg.running():
        private_pg.start()  # a test that failed mid-restart left it stopped
    name = f"synchub_c_{uuid.uuid4().hex[:12]}"
    # No pool: a restart in the test would leave its connection dead.
    admin = create_engine(private_pg.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(private_pg.url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    if not private_pg.running():
        private_pg.start()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
