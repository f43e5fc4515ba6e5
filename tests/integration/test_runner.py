"""The runner over real databases: outcomes, retries, cancel, timeout, logs, overlap."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from sqlalchemy import event, text

from synchub.core.clock import FakeClock
from synchub.core.runs import RunState
from synchub.engines.base import Outcome, RunContext
from synchub.execution.runner import Runner, RunnerSettings
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import claim as claims
from synchub.store import db
from synchub.store import runs as run_store
from synchub.store.db import transaction
from tests.support.harness import Harness
from tests.support.kinds import ScriptedKind
from tests.support.statements import ends_carried, statements_of, updates_of


def add(svc: Services, name: str, result: str = "ok", **kw: object) -> None:
    params = {"result": result, **kw.pop("params", {})}  # type: ignore[dict-item]
    svc.jobs.add(name, JobFields(kind="scripted", params=params, **kw))  # type: ignore[arg-type]


def start_in_thread(h: Harness, svc: Services, job: str) -> tuple[int, threading.Thread]:
    run_id = svc.runs.request(job)
    h.scheduler.tick()
    assert h.executor.take() == [run_id]
    t = threading.Thread(target=h.runner.execute, args=(run_id,))
    t.start()
    return run_id, t


def test_a_successful_run_records_outcome_stats_log_and_files(
    svc: Services, clock: FakeClock
) -> None:
    add(svc, "ok")
    run_id = svc.runs.request("ok")
    Harness(svc, clock).step()
    run = svc.runs.show(run_id)
    assert run.state == "succeeded"
    assert run.celery_state == "SUCCESS"
    assert run.exit_code == 0
    assert run.stats.bytes == 3
    assert run.worker == "node-a"
    assert [line.message for line in svc.runs.logs(run_id)] == ["attempt 1 of ok"]
    assert [(f.path, f.action, f.size) for f in svc.runs.files(run_id)] == [("a.txt", "copied", 3)]


def test_a_failed_run_retries_with_backoff_until_the_policy_gives_up(
    svc: Services, clock: FakeClock
) -> None:
    add(svc, "flaky", "fail", retries=2, retry_delay="10s")
    first = svc.runs.request("flaky")
    h = Harness(svc, clock)
    h.step()
    # It should wait between retries: 5-10 s, then 10-20 s.
    for attempt, wait in ((2, 10), (3, 20)):
        assert h.step() == []
        clock.advance(wait)
        (ran,) = h.step()
        assert svc.runs.show(ran).attempt == attempt
    clock.advance(3600)
    assert h.step() == []
    runs = svc.runs.list(job="flaky")
    assert [r.state for r in runs] == ["failed"] * 3
    assert [r.trigger for r in reversed(runs)] == ["manual", "retry", "retry"]
    assert runs[-1].id == first
    assert runs[0].retry_of == runs[1].id


def test_a_permanent_error_is_not_retried(svc: Services, clock: FakeClock) -> None:
    add(svc, "broken", "fatal", retries=3)
    run_id = svc.runs.request("broken")
    h = Harness(svc, clock)
    h.step()
    clock.advance(86400)
    assert h.step() == []
    run = svc.runs.show(run_id)
    assert (run.state, run.exit_code, run.celery_state) == ("failed", 7, "FAILURE")


def test_cancel_stops_a_running_run(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    add(svc, "slow", "block")
    h = Harness(svc, clock)
    run_id, t = start_in_thread(h, svc, "slow")
    assert scripted.running.acquire(timeout=10)
    assert svc.runs.cancel(run_id).state == "running"
    t.join(timeout=10)
    run = svc.runs.show(run_id)
    assert (run.state, run.celery_state) == ("cancelled", "REVOKED")
    # It should not be retried: a cancel is what the user wanted.
    assert len(svc.runs.list(job="slow")) == 1


def test_cancel_of_a_pending_run_prevents_it_from_starting(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    add(svc, "j")
    run_id = svc.runs.request("j")
    svc.runs.cancel(run_id)
    assert Harness(svc, clock).step() == []
    assert svc.runs.show(run_id).state == "cancelled"
    assert scripted.started == []


def test_a_run_past_its_timeout_is_stopped_and_retried(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    add(svc, "slow", "block", timeout="1m", retries=1)
    h = Harness(svc, clock)
    run_id, t = start_in_thread(h, svc, "slow")
    assert scripted.running.acquire(timeout=10)
    clock.advance(61)
    t.join(timeout=10)
    run = svc.runs.show(run_id)
    assert run.state == "timed_out"
    assert "timeout" in run.error
    assert svc.runs.list(job="slow")[0].trigger == "retry"


@pytest.mark.parametrize(
    ("overlap", "second_state"),
    [
        ("skip", "skipped"),  # recorded, never run
        ("queue", "pending"),  # waits for the first to end
    ],
)
def test_a_job_runs_once_at_a_time(
    svc: Services, clock: FakeClock, scripted: ScriptedKind, overlap: str, second_state: str
) -> None:
    add(svc, "slow", "block", overlap=overlap)
    h = Harness(svc, clock)
    first, t = start_in_thread(h, svc, "slow")
    assert scripted.running.acquire(timeout=10)
    second = svc.runs.request("slow")
    h.step()
    assert svc.runs.show(second).state == second_state
    scripted.release.set()
    t.join(timeout=10)
    h.step()
    assert svc.runs.show(first).state == "succeeded"
    expected = "skipped" if overlap == "skip" else "succeeded"
    assert svc.runs.show(second).state == expected


def test_overlap_allow_runs_in_parallel(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    add(svc, "par", "block", overlap="allow")
    h = Harness(svc, clock)
    _, t1 = start_in_thread(h, svc, "par")
    _, t2 = start_in_thread(h, svc, "par")
    assert scripted.running.acquire(timeout=10)
    assert scripted.running.acquire(timeout=10)
    assert len(svc.runs.list(job="par", state="running")) == 2
    scripted.release.set()
    t1.join(timeout=10)
    t2.join(timeout=10)


def test_two_workers_racing_for_one_run_claim_it_once(svc: Services, clock: FakeClock) -> None:
    add(svc, "j")
    run_id = svc.runs.request("j")
    with transaction(svc.sessions) as session:
        run_store.move(session, run_id, RunState.QUEUED, queued_at=clock.now())
    results: list[claims.Claim] = []

    def claim(worker: str) -> None:
        with transaction(svc.sessions) as session:
            results.append(claims.claim(session, run_id, worker=worker, now=clock.now()))

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(claims.Claim.CLAIMED) == 1
    assert results.count(claims.Claim.GONE) == 7


def race_to_claim(
    svc: Services, clock: FakeClock, run_ids: list[int], alone: bool = False
) -> list[claims.Claim]:
    """Claim each run in a thread of its own, all at once; the outcomes. `alone`: as a
    worker claims on PostgreSQL, one statement in autocommit (not in a transaction)."""
    results: list[claims.Claim] = []
    start = threading.Barrier(len(run_ids))

    def claim(run_id: int) -> None:
        start.wait()
        if alone:
            with db.autocommit(svc.sessions) as conn:
                done = claims.claim_in_one(conn, run_id, worker="w", now=clock.now())
            assert done is not None
            results.append(done[0])
            return
        with transaction(svc.sessions) as session:
            results.append(claims.claim(session, run_id, worker="w", now=clock.now()))

    threads = [threading.Thread(target=claim, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("alone", [False, True], ids=["transaction", "autocommit"])
@pytest.mark.parametrize("overlap", ["queue", "skip"])
def test_workers_racing_for_different_runs_of_one_job_start_only_one(
    svc: Services, clock: FakeClock, db_url: str, overlap: str, alone: bool
) -> None:
    if alone and not db_url.startswith("postgresql"):
        pytest.skip("the claim in one statement is PostgreSQL's (migration 0008)")
    add(svc, "j", overlap=overlap)
    job_id = svc.jobs.show("j").id
    for _ in range(5):
        run_ids = [svc.runs.request("j") for _ in range(6)]
        with transaction(svc.sessions) as session:
            run_store.mark_queued(session, run_ids, clock.now())
        results = race_to_claim(svc, clock, run_ids, alone)
        # It should start exactly one; the others wait (queue) or are skipped (skip).
        assert results.count(claims.Claim.CLAIMED) == 1
        others = claims.Claim.BUSY if overlap == "queue" else claims.Claim.SKIPPED
        assert results.count(others) == len(run_ids) - 1
        states = sorted(svc.runs.show(r).state for r in run_ids)
        assert states == sorted(["running"] + 5 * ["pending" if overlap == "queue" else "skipped"])
        (running,) = svc.runs.list(job="j", state="running")
        with transaction(svc.sessions) as session:
            run_store.move(session, running.id, RunState.SUCCEEDED, finished_at=clock.now())
            run_store.cancel_waiting(session, job_id, now=clock.now(), reason="test")


def test_the_claim_in_one_statement_leaves_a_limited_remote_to_the_full_path(
    svc: Services, clock: FakeClock, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the claim in one statement is PostgreSQL's (migration 0008)")
    svc.remotes.add("nas", "local", {}, max_concurrency=1)
    add(svc, "a", params={"remotes": ["nas"]})
    run_id = svc.runs.request("a")
    with transaction(svc.sessions) as session:
        run_store.mark_queued(session, [run_id], clock.now())
    with db.autocommit(svc.sessions) as conn:
        # It should do nothing and say so: the remote's limit is checked in Python.
        assert claims.claim_in_one(conn, run_id, worker="w", now=clock.now()) is None
    assert svc.runs.show(run_id).state == "queued"
    with transaction(svc.sessions) as session:
        claim = claims.claim(session, run_id, worker="w", now=clock.now())
    assert claim is claims.Claim.CLAIMED


def test_a_remote_limit_holds_runs_until_a_slot_frees(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    svc.remotes.add("nas", "local", {}, max_concurrency=1)
    add(svc, "a", "block", params={"remotes": ["nas"]})
    add(svc, "b", "ok", params={"remotes": ["nas"]})
    h = Harness(svc, clock)
    _, t = start_in_thread(h, svc, "a")
    assert scripted.running.acquire(timeout=10)
    b = svc.runs.request("b")
    h.step()
    assert svc.runs.show(b).state == "pending"
    scripted.release.set()
    t.join(timeout=10)
    h.step()
    assert svc.runs.show(b).state == "succeeded"


def test_a_long_log_keeps_its_head_and_tail_and_counts_the_middle(
    svc: Services, clock: FakeClock
) -> None:
    add(svc, "chatty", params={"lines": 1000})
    run_id = svc.runs.request("chatty")
    Harness(svc, clock).step()  # the harness caps logs at 4 KiB
    lines = svc.runs.logs(run_id)
    run = svc.runs.show(run_id)
    kept_bytes = sum(len(line.message) + 1 for line in lines)
    assert kept_bytes <= 4096
    assert lines[0].message == "attempt 1 of chatty"
    assert lines[-1].message.startswith("line 000999")
    assert run.log_dropped_lines == 1001 - len(lines)
    seqs = [line.seq for line in lines]
    assert seqs == sorted(seqs)


@pytest.mark.parametrize(
    "ping_after_s",
    [
        1e9,  # the dead connection is used: the claim fails once and is tried again
        0.0,  # the pool pings it before use and replaces it
    ],
)
def test_a_connection_cut_between_runs_costs_no_run(
    svc: Services,
    clock: FakeClock,
    db_url: str,
    ping_after_s: float,
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: a server's connections can be cut from outside")
    add(svc, "j")
    engine = db.make_engine(
        db_url, ping_after_idle_s=ping_after_s
    )  # the runner's own pool, as in a worker process
    runner = Harness(svc, clock).runner
    runner.sessions = db.make_sessionmaker(engine)
    try:
        first = svc.runs.request("j")
        with transaction(svc.sessions) as session:
            run_store.mark_queued(session, [first], clock.now())
        assert runner.execute(first) is claims.Claim.CLAIMED
        with engine.connect() as conn:  # the one pooled connection
            backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with transaction(svc.sessions) as session:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        # It should claim and end the next run as if nothing had happened.
        second = svc.runs.request("j")
        with transaction(svc.sessions) as session:
            run_store.mark_queued(session, [second], clock.now())
        assert runner.execute(second) is claims.Claim.CLAIMED
        assert svc.runs.show(second).state == "succeeded"
    finally:
        engine.dispose()


def test_one_monitor_keeps_every_running_run_alive_and_stops_the_cancelled_one(
    svc: Services, clock: FakeClock, scripted: ScriptedKind
) -> None:
    add(svc, "par", "block", overlap="allow")
    h = Harness(svc, clock)
    a, ta = start_in_thread(h, svc, "par")
    b, tb = start_in_thread(h, svc, "par")
    assert scripted.running.acquire(timeout=10)
    assert scripted.running.acquire(timeout=10)
    later = clock.advance(10)

    def both_beat() -> bool:
        runs = [svc.runs.show(r) for r in (a, b)]
        return all(r.heartbeat_at == later.isoformat() for r in runs)

    # It should renew both heartbeats and store both runs' progress.
    wait_until(both_beat)
    assert all(svc.runs.show(r).progress is not None for r in (a, b))
    # It should stop the cancelled run alone.
    svc.runs.cancel(a)
    ta.join(timeout=10)
    assert svc.runs.show(a).state == "cancelled"
    assert svc.runs.show(b).state == "running"
    scripted.release.set()
    tb.join(timeout=10)
    assert svc.runs.show(b).state == "succeeded"


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class QuietKind:
    """Succeeds or fails at once and reports nothing: its end is one UPDATE."""

    kind = "quiet"

    def validate(self, params: Mapping[str, Any], known_remotes: frozenset[str]) -> dict[str, Any]:
        return {"ok": bool(params.get("ok", True))}

    def remotes_used(self, params: Mapping[str, Any]) -> frozenset[str]:
        return frozenset()

    def run(self, ctx: RunContext) -> Outcome:
        ok = bool(ctx.params["ok"])
        return Outcome(ok=ok, error_class=None if ok else "transient", error=None if ok else "x")


def queued(svc: Services, clock: FakeClock, job: str, n: int) -> list[int]:
    run_ids = [svc.runs.request(job) for _ in range(n)]
    with transaction(svc.sessions) as session:
        run_store.mark_queued(session, run_ids, clock.now())
    return run_ids


def test_ends_written_behind_are_in_before_the_next_claim_and_at_close(
    svc: Services, clock: FakeClock, db_url: str
) -> None:
    svc.engines["quiet"] = QuietKind()
    svc.jobs.add("q", JobFields(kind="quiet", params={}, overlap="queue"))
    svc.jobs.add("f", JobFields(kind="quiet", params={"ok": False}, retries=1))
    runner = Runner(
        svc.sessions,
        svc.engines,
        svc.remotes.configs,
        clock,
        "w",
        # A bound, not a timing: every end left behind here waits for the next claim
        # to carry it, and the last for `close`.
        RunnerSettings(end_behind=True, carry_wait_s=60.0),
        job_env=svc.job_env,
        hook_url=svc.hook_url,
    )
    # A slow commit on the end thread: `close` must wait for it.
    slow = updates_of(svc.db, "runs", thread="synchub-run-end", delay_s=0.2)
    with slow as behind, ends_carried(svc.db, thread="MainThread") as carried:
        try:
            first, second = queued(svc, clock, "q", 2)
            assert runner.execute(first) is claims.Claim.CLAIMED
            # It should claim the job's next run: the first run's end, left behind
            # (PostgreSQL), is in before the claim, which would otherwise find it running.
            assert runner.execute(second) is claims.Claim.CLAIMED
            assert svc.runs.show(first).state == "succeeded"
            # A failed run's end creates its retry: written before `execute` returns.
            (failing,) = queued(svc, clock, "f", 1)
            assert runner.execute(failing) is claims.Claim.CLAIMED
            assert svc.runs.show(second).state == "succeeded"
            assert svc.runs.show(failing).state == "failed"
            assert [r.attempt for r in svc.runs.list(job="f")] == [2, 1]
            (last,) = queued(svc, clock, "q", 1)
            assert runner.execute(last) is claims.Claim.CLAIMED
        finally:
            runner.close()
    # It should have written every end by the time `close` returns.
    assert svc.runs.show(last).state == "succeeded"
    # On PostgreSQL the successes' ends were left behind, each carried by the next
    # claim's statement, the last written by the end thread at close; on SQLite
    # written by the caller.
    if db_url.startswith("postgresql"):
        assert [params["end_id"] for params in carried] == [first, second]
        assert [params["move_where_id"] for params in behind] == [last]
    else:
        assert behind == carried == []


def test_a_run_of_another_job_is_claimed_while_the_previous_end_is_written(
    svc: Services, clock: FakeClock, db_url: str
) -> None:
    """A Celery worker's next run waits for its previous run's end only when that end
    could change its claim: a run of another job is claimed meanwhile (PostgreSQL,
    where ends are written behind)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("ends are written behind on PostgreSQL only")
    svc.engines["quiet"] = QuietKind()
    svc.jobs.add("a", JobFields(kind="quiet", params={}, overlap="queue"))
    svc.jobs.add("b", JobFields(kind="quiet", params={}, overlap="queue"))
    runner = Runner(
        svc.sessions, svc.engines, svc.remotes.configs, clock, "w",
        # No claim carries an end here: the end thread writes it at once.
        RunnerSettings(end_behind=True, carry_wait_s=0.0), job_env=svc.job_env,
        hook_url=svc.hook_url,
    )  # fmt: skip
    (first,) = queued(svc, clock, "a", 1)
    (other,) = queued(svc, clock, "b", 1)
    claimed_other = threading.Event()
    end_thread_has_it = threading.Event()
    held: list[bool] = []

    def hold_the_end(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name.startswith("synchub-run-end"):
            end_thread_has_it.set()
            held.append(claimed_other.wait(timeout=30))  # a bound, not a timing

    def claimed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "synchub_claim" in statement and threading.current_thread().name == "MainThread":
            claimed_other.set()

    event.listen(svc.db, "before_cursor_execute", hold_the_end)
    try:
        assert runner.execute(first) is claims.Claim.CLAIMED
        assert end_thread_has_it.wait(timeout=30)
        event.listen(svc.db, "after_cursor_execute", claimed)
        assert runner.execute(other) is claims.Claim.CLAIMED
    finally:
        event.remove(svc.db, "before_cursor_execute", hold_the_end)
        event.remove(svc.db, "after_cursor_execute", claimed)
        runner.close()
    # The first run's end was held until the other run's claim was in.
    assert held[0] is True
    assert [svc.runs.show(r).state for r in (first, other)] == ["succeeded"] * 2


def test_an_end_whose_carrying_claim_failed_is_written_by_the_end_thread(
    svc: Services, clock: FakeClock, db_url: str
) -> None:
    """The next claim carries the previous run's end in its statement; when that
    statement fails, neither is in, and the end thread writes the end."""
    if not db_url.startswith("postgresql"):
        pytest.skip("ends are left behind on PostgreSQL only")
    svc.engines["quiet"] = QuietKind()
    svc.jobs.add("a", JobFields(kind="quiet", params={}))
    svc.jobs.add("b", JobFields(kind="quiet", params={}))
    runner = Runner(
        svc.sessions, svc.engines, svc.remotes.configs, clock, "w",
        # A bound, not a timing: the end waits for the next claim.
        RunnerSettings(end_behind=True, carry_wait_s=60.0), job_env=svc.job_env,
        hook_url=svc.hook_url,
    )  # fmt: skip
    (first,) = queued(svc, clock, "a", 1)
    (other,) = queued(svc, clock, "b", 1)
    broken: list[str] = []

    def break_the_carrying_claim(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("WITH ended AS") and not broken:
            broken.append(statement)
            raise RuntimeError("the claim's statement failed")

    event.listen(svc.db, "before_cursor_execute", break_the_carrying_claim)
    try:
        assert runner.execute(first) is claims.Claim.CLAIMED
        with pytest.raises(RuntimeError):
            runner.execute(other)
        assert broken and svc.runs.show(other).state == "queued"
        runner.wait_for_end()
        # It should have written the end the failed claim carried.
        assert svc.runs.show(first).state == "succeeded"
        assert runner.execute(other) is claims.Claim.CLAIMED
    finally:
        event.remove(svc.db, "before_cursor_execute", break_the_carrying_claim)
        runner.close()
    assert svc.runs.show(other).state == "succeeded"


def test_a_run_reads_its_job_in_its_claim_alone(svc: Services, clock: FakeClock) -> None:
    """A run of a job that nothing follows: its claim, then its lines, files and end.
    Its hooks, windows and chains come with the claim, and its end looks for no job
    to run after it."""
    svc.jobs.add("j", JobFields(kind="scripted", params={"result": "ok"}))
    run_id = svc.runs.request("j")
    h = Harness(svc, clock)
    h.scheduler.tick()
    (taken,) = h.executor.take()

    with statements_of(svc.db, thread="MainThread") as seen:
        h.runner.execute(taken)

    assert svc.runs.show(run_id).state == "succeeded"
    sent = [" ".join(statement.split()[:3]) for statement in seen]
    end = ["INSERT INTO run_logs", "INSERT INTO run_files", "UPDATE runs SET"]
    if svc.db.dialect.name == "postgresql":
        assert sent == ["SELECT * FROM", *end]  # the claim function, in autocommit
    else:
        assert sent == ["BEGIN IMMEDIATE", "SELECT jobs.id, jobs.name,", "UPDATE runs SET",
                        "BEGIN IMMEDIATE", *end]  # fmt: skip
