"""A full disk under the data directory: an 8 MiB tmpfs (tests/support/small_disk.py)
holds the SQLite database, filled to its last byte by a filler file.

While it is full: `doctor` says so, writes fail with a clear error naming the full
disk, and a run's end waits for space within its lease. Nothing recorded before is lost
or corrupted (`PRAGMA integrity_check`), and once the filler is removed the same
services carry on without a restart.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from synchub.api.app import create_app
from synchub.config import Settings
from synchub.core.clock import FakeClock
from synchub.core.logcap import LogCap
from synchub.core.runs import FileAction, FileChange
from synchub.engines.registry import builtin_engines
from synchub.execution.sink import BufferedSink
from synchub.services import Services
from synchub.services.doctor import Level
from synchub.services.jobs.fields import JobFields
from synchub.services.tokens import TOUCHES
from synchub.store.db import make_engine, transaction
from synchub.store.migrate import upgrade
from synchub.store.outage import DB_OUTAGE, Fault, fault
from tests.support.harness import Harness
from tests.support.kinds import ScriptedKind
from tests.support.small_disk import SmallDisk, small_disk

__all__ = ["small_disk"]  # the fixture, used by name


@pytest.fixture
def full_svc(small_disk: SmallDisk, clock: FakeClock, scripted: ScriptedKind) -> Iterator[Services]:
    """Services whose data directory and SQLite database are on the small disk."""
    home = small_disk.path / "home"
    home.mkdir(mode=0o700)
    url = f"sqlite:///{home / 'synchub.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    settings = Settings(home=home, database_url=url, secret_key=Fernet.generate_key().decode())
    engines = builtin_engines()
    engines[scripted.kind] = scripted
    services = Services(settings, clock=clock, engines=engines, actor="alice")
    yield services
    services.close()
    small_disk.free()


def integrity(svc: Services) -> str:
    with svc.db.connect() as conn:
        return str(conn.execute(text("PRAGMA integrity_check")).scalar_one())


def test_a_full_disk_is_told_and_synchub_carries_on_once_space_is_back(
    full_svc: Services, small_disk: SmallDisk, clock: FakeClock
) -> None:
    svc = full_svc
    svc.jobs.add("nightly", JobFields(kind="scripted", params={"lines": 20}))
    h = Harness(svc, clock)
    first = svc.runs.request("nightly")
    h.step()
    assert svc.runs.show(first).state == "succeeded"
    logged = svc.runs.logs(first)

    small_disk.fill()
    disk = {f.check: f for f in svc.doctor.examine()}["disk"]
    assert disk.level is Level.PROBLEM
    assert disk.message.startswith("the disk is full (0.0 MiB free of 8.0 MiB")
    with pytest.raises(OperationalError) as refused:
        svc.runs.request("nightly")
    assert fault(refused.value) is Fault.DISK_FULL, refused.value

    # What was recorded before is intact, and readable while the disk is full.
    assert integrity(svc) == "ok"
    assert svc.runs.show(first).state == "succeeded"
    assert svc.runs.logs(first) == logged

    small_disk.free()
    # 8 MiB is still low (a problem of its own), but no longer full.
    assert "disk is full" not in {f.check: f for f in svc.doctor.examine()}["disk"].message
    second = svc.runs.request("nightly")
    h.step()
    assert svc.runs.show(second).state == "succeeded"
    assert integrity(svc) == "ok"


class _Seen(logging.Handler):
    """Sets `event` at the first record whose message contains `words`."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.event.set()


def test_a_runs_end_waits_for_space_and_keeps_its_report(
    full_svc: Services, small_disk: SmallDisk, clock: FakeClock, scripted: ScriptedKind
) -> None:
    svc = full_svc
    svc.jobs.add("long", JobFields(kind="scripted", params={"result": "block"}))
    h = Harness(svc, clock)
    run_id = svc.runs.request("long")
    h.scheduler.tick()
    (taken,) = h.executor.take()
    worker = threading.Thread(target=h.runner.execute, args=(taken,))
    seen = _Seen(str(Fault.DISK_FULL))
    outage_log = logging.getLogger("synchub.store.outage")
    outage_log.addHandler(seen)
    try:
        worker.start()
        assert scripted.running.acquire(timeout=30)
        small_disk.fill()
        scripted.release.set()  # the run ends, with a change report to write
        assert seen.event.wait(30), "the full disk was never reported"
        assert DB_OUTAGE.current() is Fault.DISK_FULL
        small_disk.free()
        worker.join(30)
        assert not worker.is_alive()
    finally:
        outage_log.removeHandler(seen)
    shown = svc.runs.show(run_id)
    assert shown.state == "succeeded"
    # The report buffered when the first try of the end failed is written by a later one.
    assert [f.path for f in svc.runs.files(run_id)] == ["a.txt"]
    assert integrity(svc) == "ok"


def test_the_api_and_the_cli_say_the_disk_is_full_without_a_traceback(
    full_svc: Services, small_disk: SmallDisk, caplog: pytest.LogCaptureFixture
) -> None:
    svc = full_svc
    svc.jobs.add("nightly", JobFields(kind="scripted"))
    token = svc.tokens.create("ops", "admin")[0]
    settings = svc.settings
    env = {
        **os.environ,
        "SYNCHUB_HOME": str(settings.home),
        "SYNCHUB_DATABASE_URL": settings.database_url,
        "SYNCHUB_SECRET_KEY": str(settings.secret_key),
    }
    small_disk.fill()
    with TestClient(create_app(svc=svc), headers={"Authorization": f"Bearer {token}"}) as api:
        answer = api.post("/api/v1/jobs/nightly/disable")
        ready = api.get("/readyz")
        health = api.get("/api/v1/health")
    TOUCHES.wait()  # the token's use is written (here: fails to be) by a thread
    assert answer.status_code == 503, answer.text
    assert answer.json()["detail"].startswith("The database cannot write: the disk is full")
    assert ready.status_code == 503
    assert ready.json()["checks"]["disk"].startswith("the disk is full (0.0 MiB free")
    assert health.status_code == 503
    (disk,) = [c for c in health.json()["checks"] if c["check"] == "disk"]
    assert disk["message"].startswith("the disk is full")
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"

    cli = subprocess.run(
        [sys.executable, "-m", "synchub", "job", "disable", "nightly"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cli.returncode == 1, cli.stderr
    assert "Traceback" not in cli.stderr
    assert "the disk is full" in cli.stderr
    small_disk.free()
    assert svc.jobs.show("nightly").enabled is True  # nothing changed


def test_a_copy_that_fills_the_disk_fails_with_a_clear_error(
    full_svc: Services,
    small_disk: SmallDisk,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # rclone's cache stays in the test
    svc = full_svc
    source = tmp_path / "source"
    source.mkdir()
    (source / "big.bin").write_bytes(os.urandom(4 << 20))
    destination = small_disk.path / "copy"
    params = {"op": "copy", "source": str(source), "destination": str(destination)}
    svc.jobs.add("copy", JobFields(kind="rclone", params=params))
    h = Harness(svc, clock)
    small_disk.fill(leave=2 << 20)  # room for the database's end of the run, not the file
    run_id = svc.runs.request("copy")
    h.step()
    shown = svc.runs.show(run_id)
    assert shown.state == "failed", shown
    # rclone preallocates where it can ("file too big for remaining disk space"),
    # and meets ENOSPC writing where it cannot ("no space left on device").
    error = shown.error.lower()
    assert "remaining disk space" in error or "no space left on device" in error, error
    assert "not retried" not in str(shown.next_step), shown  # a retry may find space
    assert integrity(svc) == "ok"

    small_disk.free()  # space is back: the same services copy it
    again = svc.runs.request("copy")
    h.step()
    assert svc.runs.show(again).state == "succeeded"
    assert (destination / "big.bin").stat().st_size == 4 << 20


def test_a_runs_log_and_change_report_stay_within_their_caps_while_the_disk_is_full(
    full_svc: Services, small_disk: SmallDisk, clock: FakeClock
) -> None:
    svc = full_svc
    svc.jobs.add("chatty", JobFields(kind="scripted"))
    run_id = svc.runs.request("chatty")
    sink = BufferedSink(run_id, clock, LogCap(4096), file_cap=10)
    small_disk.fill()
    for tick in range(3):  # three monitor ticks whose flushes fail
        for i in range(200):
            sink.log("info", f"tick {tick} line {i:04d} " + "x" * 40)
            sink.file(FileChange(f"f{tick}-{i}", FileAction.COPIED, 1))
        with pytest.raises(OperationalError), transaction(svc.sessions) as session:
            sink.flush(session)
        sink.put_back()
        buffered = sum(len(line[3].encode()) + 1 for line in sink._lines)
        assert buffered <= 4096 and len(sink._files) <= 10  # memory stays within the caps
    small_disk.free()
    with transaction(svc.sessions) as session:
        sink.flush(session)
    lines = [line.message for line in svc.runs.logs(run_id)]
    assert lines[0].startswith("tick 0 line 0000") and lines[-1].startswith("tick 2 line 0199")
    assert sum(len(line.encode()) + 1 for line in lines) <= 4096
    assert [f.path for f in svc.runs.files(run_id)] == [f"f0-{i}" for i in range(10)]
    shown = svc.runs.show(run_id)
    assert shown.files_dropped == 590 and shown.log_dropped_lines > 0
    assert integrity(svc) == "ok"


def test_lines_put_back_after_a_commit_that_went_through_are_not_stored_twice(
    svc: Services, clock: FakeClock
) -> None:
    # A cut connection can fail a commit that went through: the flush's lines are
    # put back, and the next flush must not store them again (nor fail on them).
    svc.jobs.add("chatty", JobFields(kind="scripted"))
    run_id = svc.runs.request("chatty")
    sink = BufferedSink(run_id, clock, LogCap(4096), file_cap=10)
    sink.log("info", "first")
    with transaction(svc.sessions) as session:
        sink.flush(session)
    sink.put_back()  # as if that commit had raised
    sink.log("info", "second")
    with transaction(svc.sessions) as session:
        sink.flush(session)
    assert [line.message for line in svc.runs.logs(run_id)] == ["first", "second"]
