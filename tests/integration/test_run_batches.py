"""A run of many small files has its log lines and change-report rows written in
batches while it works, not all after it ends: a full batch goes before the tick."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from synchub.core.clock import FakeClock
from synchub.core.logcap import LogCap
from synchub.core.runs import FileAction, FileChange
from synchub.execution.sink import BufferedSink
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store.db import transaction
from tests.support.harness import Harness
from tests.support.kinds import ScriptedKind


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_full_batch_is_written_while_the_run_works_before_the_next_tick(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    # 600 lines, then the run waits: only a batch written before the tick (an hour
    # away) can put them in the database while it waits.
    svc.jobs.add("chatty", JobFields(kind="scripted", params={"result": "block", "lines": 600}))
    h = Harness(svc, clock)
    h.runner.settings = replace(h.runner.settings, tick_s=3600.0, log_cap_bytes=1 << 20)
    run_id = svc.runs.request("chatty")
    h.scheduler.tick()
    assert h.executor.take() == [run_id]
    thread = threading.Thread(target=h.runner.execute, args=(run_id,))
    thread.start()
    try:
        wait_until(lambda: len(svc.runs.logs(run_id)) >= 500)
        assert svc.runs.show(run_id).state == "running"
    finally:
        scripted.release.set()
        thread.join(timeout=30)
    lines = [line.message for line in svc.runs.logs(run_id)]
    assert lines == ["attempt 1 of chatty", *(f"line {i:06d} " + "x" * 40 for i in range(600))]
    assert [f.path for f in svc.runs.files(run_id)] == ["a.txt"]


def test_a_sink_says_a_batch_is_full_once_until_it_is_written(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("chatty", JobFields(kind="scripted"))
    run_id = svc.runs.request("chatty")
    said: list[int] = []
    sink = BufferedSink(
        run_id, clock, LogCap(1 << 20), 100, batch_rows=3, on_full=lambda: said.append(1)
    )
    sink.log("info", "one")
    sink.file(FileChange("a.txt", FileAction.COPIED, 1))
    assert not sink.full() and said == []
    sink.log("info", "two")  # lines and files together make the batch
    assert sink.full() and said == [1]
    sink.log("info", "three")
    assert said == [1]
    with transaction(svc.sessions) as session:
        sink.flush(session)
    assert not sink.full()
    sink.put_back()  # as if its commit had failed: the next tick tries again
    sink.log("info", "four")
    assert not sink.full() and said == [1]  # the tick's, not a write per line
    with transaction(svc.sessions) as session:
        sink.flush(session)
    for word in ("five", "six"):
        sink.log("info", word)
    assert not sink.full() and said == [1]
    sink.log("info", "seven")
    assert sink.full() and said == [1, 1]
    with transaction(svc.sessions) as session:
        sink.flush(session)
    lines = [line.message for line in svc.runs.logs(run_id)]
    assert lines == ["one", "two", "three", "four", "five", "six", "seven"]
