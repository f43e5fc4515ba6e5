"""A full disk under real processes: `synchub serve` on SQLite with its data directory on
a small file system of the test's own (tests/support/small_disk.py), and a Celery
`synchub worker` on PostgreSQL whose data directory and rclone destination are on one.

While the disk is full: runs end with a clear error (rclone's, naming the missing
space), a run that ends meanwhile waits for space to write its end, its log and change
report stay within their caps, `/readyz`, `/api/v1/health` and `synchub doctor` say
the disk is full, and a request that writes is refused with a one-line 503. Nothing
recorded before is lost or corrupted (`PRAGMA integrity_check`), no process logs a
traceback, and once space is back the same processes carry on, with no restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from synchub.config import Settings
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from synchub.store.db import make_engine, reading
from synchub.store.migrate import upgrade
from synchub.store.tables import RunRow
from tests.conftest import need_service
from tests.distributed.conftest import BROKERS, REPO, Cluster
from tests.distributed.db_chaos import Server, log_problems, wait_for
from tests.support.small_disk import SmallDisk, small_disk

__all__ = ["small_disk"]  # the fixture, used by name

pytestmark = [pytest.mark.slow]

LOG_CAP = 4096  #: bytes of a run's log (SYNCHUB_LOG_CAP_BYTES)
FILE_CAP = 10  #: rows of a run's change report (SYNCHUB_FILE_REPORT_CAP)
SMALL_FILES = 30
#: a command that prints 300 lines, then waits for the file named by its argument
CHATTY = (
    "import os, sys, time\n"
    "for i in range(300): print(f'line {i:04d} ' + 'x' * 40, flush=True)\n"
    "while not os.path.exists(sys.argv[1]): time.sleep(0.05)\n"
)


def caps_env(tmp: Path) -> dict[str, str]:
    return {
        "SYNCHUB_LOG_CAP_BYTES": str(LOG_CAP),
        "SYNCHUB_FILE_REPORT_CAP": str(FILE_CAP),
        "HOME": str(tmp),  # rclone's cache stays in the test
    }


def make_source(tmp: Path) -> Path:
    """4 MiB that cannot fit on a nearly full small disk, and small files beside it."""
    source = tmp / "source"
    source.mkdir()
    (source / "big.bin").write_bytes(os.urandom(4 << 20))
    for i in range(SMALL_FILES):
        (source / f"f{i:02d}.txt").write_text(f"small {i}\n" * 20)
    return source


def run_chain(svc: Services, run_id: int) -> list[RunView]:
    """Run `run_id` and the retries that followed it, as `runs.show` shows each."""
    with reading(svc.sessions) as session:
        follow = {r.retry_of: r.id for r in session.scalars(select(RunRow)) if r.retry_of}
    ids = [run_id]
    while ids[-1] in follow:
        ids.append(follow[ids[-1]])
    return [svc.runs.show(i) for i in ids]


def settled(svc: Services, run_id: int) -> list[RunView] | None:
    """The chain of `run_id` once it has ended in success; fails when it cannot."""
    found = run_chain(svc, run_id)
    last = found[-1]
    if last.state == "succeeded":
        return found
    if str(last.next_step).startswith("not retried"):
        pytest.fail(f"run {run_id} ended for good: {found}")
    return None


def integrity(svc: Services) -> str:
    with svc.db.connect() as conn:
        return str(conn.execute(text("PRAGMA integrity_check")).scalar_one())


def log_bytes(svc: Services, run_id: int) -> int:
    return sum(len(line.message.encode()) + 1 for line in svc.runs.logs(run_id))


def call(url: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "synchub", "doctor"],
        env={**env, "COLUMNS": "400"},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class OnSmallDisk:
    """`serve`'s environment and the test's own services, with the data directory and
    its SQLite database on the small disk."""

    def __init__(self, tmp: Path, disk: SmallDisk) -> None:
        home = disk.path / "home"
        home.mkdir(mode=0o700)
        url = f"sqlite:///{home / 'synchub.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        key = Fernet.generate_key().decode()
        self.env = {
            **os.environ,
            **caps_env(tmp),
            "SYNCHUB_HOME": str(home),
            "SYNCHUB_DATABASE_URL": url,
            "SYNCHUB_SECRET_KEY": key,
            "SYNCHUB_ALLOW_COMMAND_JOBS": "1",
            "SYNCHUB_POLL_INTERVAL": "0.2",
            # Long: the end of a run waits for space within its lease, and the test's
            # checks of the full disk (a `synchub doctor` among them) take a while.
            "SYNCHUB_RUN_LEASE": "300",
            "PYTHONPATH": str(REPO),
        }
        settings = Settings(home=home, database_url=url, secret_key=key, allow_command_jobs=True)
        self.svc = Services(settings, actor="test")


@pytest.fixture
def on_small_disk(tmp_path: Path, small_disk: SmallDisk) -> Iterator[OnSmallDisk]:
    setup = OnSmallDisk(tmp_path, small_disk)
    yield setup
    setup.svc.close()
    small_disk.free()


@pytest.mark.timeout(600)
def test_serve_on_a_full_disk_says_so_and_carries_on_once_space_is_back(
    on_small_disk: OnSmallDisk, small_disk: SmallDisk, tmp_path: Path
) -> None:
    svc, gate = on_small_disk.svc, tmp_path / "gate"
    params = {"op": "copy", "source": str(make_source(tmp_path)), "destination": ""}
    params["destination"] = str(small_disk.path / "copy")
    svc.jobs.add("copy", JobFields(kind="rclone", params=params, retries=0))
    argv = [sys.executable, "-c", CHATTY, str(gate)]
    svc.jobs.add(
        "chatty", JobFields(kind="command", params={"argv": argv}, retries=3, retry_delay="1s")
    )
    token = svc.tokens.create("ops", "admin")[0]
    server = Server(on_small_disk.env, tmp_path / "serve.log").wait_ready()
    try:
        gate.touch()
        first = svc.runs.request("chatty")
        wait_for("the first run", lambda: settled(svc, first), 120)
        recorded = svc.runs.logs(first)

        # rclone's destination fills: room for the database, not for the copy.
        small_disk.fill(leave=2 << 20)
        copy = svc.runs.request("copy")
        wait_for("the copy to fail", lambda: svc.runs.show(copy).finished_at, 120)
        failed = svc.runs.show(copy)
        assert failed.state == "failed", failed
        error = failed.error.lower()
        assert "remaining disk space" in error or "no space left on device" in error, error
        # The small files fitted: its change report holds the first of them, no more.
        assert len(svc.runs.files(copy)) == FILE_CAP
        assert failed.files_dropped > 0, failed

        # The whole disk fills while a run is under way: its end waits for space.
        gate.unlink()
        during = svc.runs.request("chatty")
        wait_for("the run to start", lambda: svc.runs.show(during).state == "running", 120)
        seen = len(server.log.read_text(errors="replace"))
        small_disk.fill()
        gate.touch()
        wait_for(
            "serve to tell the full disk",
            lambda: "database disk full" in server.log.read_text(errors="replace")[seen:],
            120,
        )
        status, ready = call(f"{server.url}/readyz", token)
        assert status == 503, ready
        assert ready["checks"]["disk"].startswith("the disk is full (0.0 MiB free"), ready
        status, health = call(f"{server.url}/api/v1/health", token)
        assert status == 503, health
        (disk,) = [c for c in health["checks"] if c["check"] == "disk"]
        assert disk["message"].startswith("the disk is full"), disk
        status, refused = call(f"{server.url}/api/v1/jobs/run", token, {"names": ["chatty"]})
        assert status == 503, refused
        assert refused["detail"].startswith("The database cannot write: the disk is full")
        told = doctor(on_small_disk.env)
        assert told.returncode == 1, told.stdout + told.stderr
        assert "the disk is full (0.0 MiB free" in told.stdout, told.stdout
        assert "Traceback" not in told.stderr, told.stderr
        # What was recorded before is intact, and readable while the disk is full.
        assert integrity(svc) == "ok"
        assert svc.runs.logs(first) == recorded

        small_disk.free()
        ended = wait_for("the run's end to be written", lambda: settled(svc, during), 120)
        status, ready = call(f"{server.url}/readyz", token)
        assert status == 200, ready
        status, asked = call(f"{server.url}/api/v1/jobs/run", token, {"names": ["copy"]})
        assert status == 202, asked
        (again,) = [run["id"] for run in asked["data"]]
        done = wait_for("the copy to succeed", lambda: settled(svc, again), 120)
    finally:
        server.stop()
    # The run's own end was written once there was room, its log within its cap.
    assert [run.id for run in ended] == [during], ended
    assert log_bytes(svc, during) <= LOG_CAP
    assert ended[0].log_dropped_lines > 0, ended
    assert [f.path for f in svc.runs.files(done[-1].id)] == ["big.bin"]
    assert (small_disk.path / "copy" / "big.bin").stat().st_size == 4 << 20
    assert integrity(svc) == "ok"
    assert svc.runs.logs(first) == recorded
    tracebacks, _ = log_problems(server.log.read_text(errors="replace"))
    assert tracebacks == 0, server.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def redis_cluster(tmp_path: Path, pg_url: str) -> Iterator[Cluster]:
    broker = BROKERS["redis"]
    from synchub.execution.celery_exec import broker_problem

    if (problem := broker_problem(broker)) is not None:
        need_service("redis", problem)
    cluster = Cluster(tmp_path, pg_url, broker)
    yield cluster
    cluster.close()


@pytest.mark.timeout(600)
def test_a_worker_whose_disk_fills_fails_its_runs_clearly_and_carries_on(
    redis_cluster: Cluster, small_disk: SmallDisk, tmp_path: Path
) -> None:
    cluster = redis_cluster
    home = small_disk.path / "home"
    home.mkdir(mode=0o700)
    scratch = small_disk.path / "tmp"
    scratch.mkdir()
    env = {**caps_env(tmp_path), "SYNCHUB_HOME": str(home), "TMPDIR": str(scratch)}
    destination = small_disk.path / "copy"
    destination.mkdir()
    params = {"op": "copy", "source": str(make_source(tmp_path)), "destination": str(destination)}
    fields = JobFields(
        kind="rclone", params=params, queue=cluster.queue, retries=3, retry_delay="2s"
    )
    cluster.svc.jobs.add("copy", fields)
    worker = cluster.worker(env=env)
    cluster.start_scheduler()

    small_disk.fill()
    told = doctor({**cluster.env, **env})  # on the worker's machine, with its settings
    assert told.returncode == 1, told.stdout + told.stderr
    assert "the disk is full (0.0 MiB free" in told.stdout, told.stdout
    run_id = cluster.run("copy")
    first = cluster.wait_state(run_id, timeout=180)
    assert first.state == "failed", first
    error = first.error.lower()
    assert "remaining disk space" in error or "no space left on device" in error, error
    # Retried by the job's policy: space may come back.
    assert first.next_step.startswith("retry 1 of 3"), first
    # Its change report holds the first failures, no more.
    assert len(cluster.svc.runs.files(run_id)) == FILE_CAP
    assert first.files_dropped == SMALL_FILES + 1 - FILE_CAP, first
    assert log_bytes(cluster.svc, run_id) <= LOG_CAP

    small_disk.free()  # the same worker's retry copies it, with nobody asking
    chain = wait_for("the retry to succeed", lambda: settled(cluster.svc, run_id), 180)
    last = chain[-1]
    assert len(cluster.svc.runs.files(last.id)) == FILE_CAP
    assert last.files_dropped == SMALL_FILES + 1 - FILE_CAP, last
    for run in chain:
        assert log_bytes(cluster.svc, run.id) <= LOG_CAP, run
    assert (destination / "big.bin").stat().st_size == 4 << 20
    tracebacks, _ = log_problems(worker.output())
    assert tracebacks == 0, worker.output()[-4000:]
