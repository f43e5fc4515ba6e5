"""Removing a job: its history goes with it or is kept; no run is left behind running."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from synchub.core.clock import FakeClock
from synchub.core.errors import JobDeleted, JobNotFound, JobRunning
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.jobs.job_views import Removed
from synchub.store import audit
from synchub.store import claim as claims
from synchub.store import jobs as job_store
from synchub.store import runs as run_store
from synchub.store.db import transaction
from tests.support.harness import Harness
from tests.support.kinds import ScriptedKind


def add(svc: Services, name: str, result: str = "ok", **kw: Any) -> None:
    svc.jobs.add(name, JobFields(kind="scripted", params={"result": result}, **kw))


def test_keeping_the_history_keeps_runs_logs_and_files_under_the_jobs_name(
    svc: Services, clock: FakeClock
) -> None:
    add(svc, "nightly", "fail", retries=0)
    h = Harness(svc, clock)
    failed = svc.runs.request("nightly")
    h.step()
    waiting = svc.runs.request("nightly")

    outcome = svc.jobs.remove("nightly", keep_history=True)

    assert outcome == Removed(
        keep_history=True,
        runs_cancelled=[waiting],
        runs_kept=2,
        runs_deleted=0,
    )
    with pytest.raises(JobNotFound):
        svc.jobs.show("nightly")
    # It should show each kept run with the name of the job it belonged to.
    run = svc.runs.show(failed)
    assert (run.job, run.job_deleted, run.state) == ("nightly", True, "failed")
    assert run.files_summary == {"copied": 1}
    assert [line.message for line in svc.runs.logs(failed)] == ["attempt 1 of nightly"]
    assert [f.path for f in svc.runs.files(failed)] == ["a.txt"]
    # It should end the run that was waiting, not leave it for a job that is gone.
    cancelled = svc.runs.show(waiting)
    assert (cancelled.state, cancelled.reason) == ("cancelled", "job_deleted")
    assert cancelled.finished_at == clock.now().isoformat()
    # It should still find them by the job's name.
    assert [r.id for r in svc.runs.page(job="nightly")] == [waiting, failed]
    # It should refuse a retry: there is no job left to run.
    with pytest.raises(JobDeleted, match="'nightly' was deleted"):
        svc.runs.retry(failed)
    with pytest.raises(JobNotFound):
        svc.runs.page(job="never-existed")


def test_removing_a_job_by_default_deletes_its_runs_logs_and_files(
    svc: Services, clock: FakeClock
) -> None:
    add(svc, "j")
    add(svc, "other")
    done = svc.runs.request("j")
    kept = svc.runs.request("other")
    Harness(svc, clock).step()
    svc.runs.request("j")

    outcome = svc.jobs.remove("j")

    assert outcome.runs_deleted == 2 and outcome.runs_kept == 0
    assert outcome.keep_history is False and len(outcome.runs_cancelled) == 1
    assert [r.id for r in svc.runs.page()] == [kept]
    with pytest.raises(JobNotFound):
        svc.runs.page(job="j")
    with transaction(svc.sessions) as session:
        assert run_store.get(session, done) is None
    # It should leave the other job's history alone.
    assert svc.runs.logs(kept) and svc.runs.files(kept)


def test_the_removal_is_audited_with_what_became_of_the_runs(svc: Services) -> None:
    add(svc, "a")
    add(svc, "b")
    svc.runs.request("a")
    svc.jobs.remove("a", keep_history=True)
    svc.jobs.remove("b")
    with transaction(svc.sessions) as session:
        b, a = audit.recent(session, limit=2)
    assert (a.action, a.target, a.actor) == ("job.remove", "a", "alice")
    assert a.before is not None and a.before["name"] == "a"
    assert a.after is not None and a.after["keep_history"] is True
    assert a.after["runs_kept"] == 1 and len(a.after["runs_cancelled"]) == 1
    assert (b.action, b.target) == ("job.remove", "b")
    assert b.after == {
        "keep_history": False,
        "runs_cancelled": [],
        "runs_kept": 0,
        "runs_deleted": 0,
    }


@pytest.mark.parametrize("keep_history", [False, True])
def test_a_job_with_a_running_run_is_not_removed_until_the_run_ends(
    svc: Services, clock: FakeClock, scripted: ScriptedKind, keep_history: bool
) -> None:
    add(svc, "busy", "block", overlap="queue")
    h = Harness(svc, clock)
    running = svc.runs.request("busy")
    h.scheduler.tick()
    assert h.executor.take() == [running]
    worker = threading.Thread(target=h.runner.execute, args=(running,))
    worker.start()
    assert scripted.running.acquire(timeout=10)
    waiting = svc.runs.request("busy")
    try:
        with pytest.raises(JobRunning, match=f"run {running}.*cancel it"):
            svc.jobs.remove("busy", keep_history=keep_history)
        # It should change nothing: the job, the running run and the waiting one stay.
        assert svc.jobs.show("busy").name == "busy"
        assert svc.runs.show(running).state == "running"
        assert svc.runs.show(waiting).state == "pending"
        svc.runs.cancel(running)
        worker.join(10)  # its runner sees the request within a tick and stops it
    finally:
        scripted.release.set()
        worker.join(10)
    assert svc.runs.show(running).state == "cancelled"

    outcome = svc.jobs.remove("busy", keep_history=keep_history)

    assert outcome.runs_cancelled == [waiting]


def test_a_run_handed_to_an_executor_before_the_removal_never_starts(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    add(svc, "j")
    h = Harness(svc, clock)
    run_id = svc.runs.request("j")
    h.scheduler.tick()
    assert h.executor.take() == [run_id]  # queued, in the executor's hands

    assert svc.jobs.remove("j", keep_history=True).runs_cancelled == [run_id]

    assert h.runner.execute(run_id) is claims.Claim.GONE
    assert scripted.started == []
    assert svc.runs.show(run_id).state == "cancelled"


def test_a_run_handed_over_before_its_job_was_deleted_never_starts_a_new_run(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    add(svc, "old", queue="nas")
    h = Harness(svc, clock)
    stale = svc.runs.request("old")
    h.scheduler.tick()
    assert h.executor.take() == [stale]  # its message still waits on the broker
    svc.jobs.remove("old")  # the run goes with its history
    add(svc, "newer")

    fresh = svc.runs.request("newer")

    # It should give the new run an id of its own (SQLite would give the deleted one's
    # again), so that the old message finds nothing to start.
    assert fresh != stale
    assert h.runner.execute(stale) is claims.Claim.GONE
    assert scripted.started == []
    assert svc.runs.show(fresh).state == "pending"


def test_a_new_job_may_take_the_name_of_a_deleted_one(svc: Services, clock: FakeClock) -> None:
    add(svc, "photos")
    h = Harness(svc, clock)
    old = svc.runs.request("photos")
    h.step()
    svc.jobs.remove("photos", keep_history=True)
    add(svc, "photos")
    new = svc.runs.request("photos")
    h.step()

    # It should list both under the name, telling the deleted job's run apart.
    assert [(r.id, r.job_deleted) for r in svc.runs.page(job="photos")] == [
        (new, False),
        (old, True),
    ]
    # It should retry the new job's run, and still refuse the deleted job's.
    assert svc.runs.retry(new) > new
    with pytest.raises(JobDeleted):
        svc.runs.retry(old)


def test_kept_runs_of_jobs_that_fired_at_the_same_time_do_not_clash(
    svc: Services, clock: FakeClock
) -> None:
    add(svc, "a", cron="0 * * * *", tz="UTC")
    add(svc, "b", cron="0 * * * *", tz="UTC")
    clock.advance(hours=1)
    ran = Harness(svc, clock).step()
    assert len(ran) == 2

    # Promise 1's unique (job, fire time) index must take two runs whose job is gone
    # for the same fire time: a removed job's id is NULL, and NULLs never clash.
    svc.jobs.remove("a", keep_history=True)
    svc.jobs.remove("b", keep_history=True)

    runs = svc.runs.page()
    assert sorted(r.job for r in runs) == ["a", "b"]
    assert {r.scheduled_for for r in runs} == {"2025-06-02T10:00:00+00:00"}
    assert all(r.job_deleted for r in runs)


def _wait_for_a_lock_wait(svc: Services) -> None:
    """Until a session of this database waits for a row lock (PostgreSQL)."""
    deadline = time.monotonic() + 30
    with svc.sessions() as probe:
        while time.monotonic() < deadline:
            waiting = probe.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            probe.rollback()  # a fresh snapshot for the next look
            if waiting:
                return
            time.sleep(0.01)
    raise AssertionError("the request never waited for the removal's lock")


# SQLite lets one writer in at a time: no removal is ever in progress there.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("how", ["request", "request_many", "retry"])
def test_a_run_asked_for_while_its_job_is_being_removed_finds_the_job_gone(
    svc: Services, clock: FakeClock, how: str
) -> None:
    add(svc, "doomed")
    ended = svc.runs.request("doomed")
    Harness(svc, clock).step()
    ask: dict[str, Callable[[], object]] = {
        "request": lambda: svc.runs.request("doomed"),
        "request_many": lambda: svc.runs.request_many(["doomed"]),
        "retry": lambda: svc.runs.retry(ended),
    }
    raised: list[BaseException] = []

    def asker() -> None:
        try:
            ask[how]()
        except BaseException as exc:  # the test looks at it in its own thread
            raised.append(exc)

    with transaction(svc.sessions) as remover:
        job = job_store.get(remover, "doomed")
        assert job is not None
        job_store.lock(remover, job.id)  # as JobService.remove begins
        thread = threading.Thread(target=asker)
        thread.start()
        _wait_for_a_lock_wait(svc)
        job_store.remove(remover, job.id)
    thread.join(30)

    # It should answer "no such job" (404), not fail on the foreign key (500).
    assert len(raised) == 1
    assert isinstance(raised[0], JobNotFound | JobDeleted), repr(raised[0])
