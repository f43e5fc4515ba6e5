"""The claim's scenarios, run against every path a claim takes: the statements (SQLite,
and PostgreSQL's for a remote with a concurrency limit), PostgreSQL's function
(`synchub/store/sql/claim_v2.sql`) as a worker calls it (`claim.take`), and the
claim of many runs together (`claim.take_many`)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from synchub.core.clock import FakeClock
from synchub.core.runs import RunState, Trigger
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import claim as claims
from synchub.store import jobs as job_store
from synchub.store import runs as run_store
from synchub.store.claim import Claim
from synchub.store.db import transaction
from synchub.store.tables import JobRow, RunRow
from tests.support.harness import Harness

#: (run id) -> the claim's outcome, by one path, as worker "w".
Claimer = Callable[[int], claims.ClaimOutcome]


@pytest.fixture(params=["statements", "function", "together"])
def claim(request: pytest.FixtureRequest, svc: Services, clock: FakeClock, db_url: str) -> Claimer:
    if request.param == "function":
        if not db_url.startswith("postgresql"):
            pytest.skip("the claim function is PostgreSQL's; SQLite has the statements only")
        return lambda run_id: claims.take(svc.sessions, run_id, worker="w", clock=clock)
    if request.param == "together":  # `take_many`, here of one run each time
        return lambda run_id: claims.take_many(svc.sessions, [run_id], worker="w", clock=clock)[0]

    def with_statements(run_id: int) -> claims.ClaimOutcome:
        with transaction(svc.sessions) as session:
            return claims.claim_with_statements(session, run_id, worker="w", now=clock.now())

    return with_statements


def add(svc: Services, name: str, **kw: Any) -> None:
    params = {"result": "ok", **kw.pop("params", {})}
    svc.jobs.add(name, JobFields(kind="scripted", params=params, **kw))


def queued(svc: Services, clock: FakeClock, job: str, **kw: Any) -> int:
    """A queued run of `job`, made as the scheduler makes it (with `kw`'s flags)."""
    with transaction(svc.sessions) as session:
        job_row = job_store.get(session, job)
        assert job_row is not None
        run_id = run_store.create(session, job_row, trigger=Trigger.API, now=clock.now(), **kw)
        assert run_id is not None
        assert run_store.mark_queued(session, [run_id], clock.now()) == {run_id}
    return run_id


def row(svc: Services, run_id: int) -> RunRow:
    with transaction(svc.sessions) as session:
        found = session.scalars(select(RunRow).where(RunRow.id == run_id)).one()
        session.expunge(found)
        return found


def succeed(svc: Services, clock: FakeClock, run_id: int) -> None:
    with transaction(svc.sessions) as session:
        assert run_store.move(session, run_id, RunState.SUCCEEDED, finished_at=clock.now())


def test_a_queued_run_is_claimed_once_with_what_running_it_needs(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    add(svc, "j", timeout="1h")
    run_id = queued(svc, clock, "j")

    outcome, claimed = claim(run_id)

    assert outcome is Claim.CLAIMED
    assert claimed is not None
    job = svc.jobs.show("j")
    assert (claimed.run_id, claimed.attempt, claimed.first_run) == (run_id, 1, True)
    assert (claimed.job_id, claimed.job_name, claimed.kind) == (job.id, "j", "scripted")
    assert claimed.params["result"] == "ok"
    assert (claimed.timeout_s, claimed.watch, claimed.only_path) == (3600, False, None)
    assert (claimed.dry_run, claimed.allow_deletes, claimed.resync) == (False, False, False)
    assert claimed.started_at == clock.now()
    assert claimed.extras == job_store.RunExtras({}, False, [], None, "api")
    stored = row(svc, run_id)
    assert (stored.state, stored.worker) == ("running", "w")
    assert stored.started_at == stored.heartbeat_at
    # A second claim of the same run finds it taken.
    assert claim(run_id) == (Claim.GONE, None)


def test_the_claim_says_a_run_is_flagged_and_whether_its_job_ever_succeeded(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    add(svc, "j", overlap="allow")
    dry = queued(svc, clock, "j", dry_run=True, allow_deletes=True, resync=True)
    _, claimed = claim(dry)
    assert claimed is not None
    assert (claimed.dry_run, claimed.allow_deletes, claimed.resync) == (True, True, True)
    succeed(svc, clock, dry)
    # A dry run's success is no success: a bisync still needs its first --resync.
    _, claimed = claim(queued(svc, clock, "j"))
    assert claimed is not None and claimed.first_run
    succeed(svc, clock, claimed.run_id)
    _, claimed = claim(queued(svc, clock, "j"))
    assert claimed is not None and not claimed.first_run


def test_the_claim_brings_the_jobs_hooks_windows_and_whether_a_job_follows_it(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    hooks = {"after": [{"url": "https://hooks.example/done"}]}
    add(svc, "j", hooks=hooks, windows=["Mon-Fri 22:00-06:00"], cron="0 23 * * *")
    add(svc, "next", after=["j"])
    _, claimed = claim(queued(svc, clock, "j"))
    assert claimed is not None
    extras = claimed.extras
    assert (extras.followed, extras.windows, extras.trigger) == (
        True, ["Mon-Fri 22:00-06:00"], "api"
    )  # fmt: skip
    assert extras.windows_tz is not None
    (after,) = extras.hooks["after"]
    assert after["url_sealed"]  # sealed as stored: the runner opens it
    _, alone = claim(queued(svc, clock, "next"))
    assert alone is not None and not alone.extras.followed and alone.extras.hooks == {}


def test_a_run_that_is_not_queued_is_gone_and_left_as_it_is(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    add(svc, "j", overlap="allow")
    pending = svc.runs.request("j")
    cancelled = queued(svc, clock, "j")
    svc.runs.cancel(cancelled)

    assert claim(pending) == (Claim.GONE, None)
    assert claim(cancelled) == (Claim.GONE, None)
    assert claim(10_000) == (Claim.GONE, None)
    assert (row(svc, pending).state, row(svc, cancelled).state) == ("pending", "cancelled")


@pytest.mark.parametrize(
    ("overlap", "outcome", "state"),
    [("queue", Claim.BUSY, "pending"), ("skip", Claim.SKIPPED, "skipped")],
)
def test_a_run_of_a_running_job_waits_or_is_skipped_by_its_overlap_policy(
    svc: Services, clock: FakeClock, claim: Claimer, overlap: str, outcome: Claim, state: str
) -> None:
    add(svc, "j", overlap=overlap)
    first = queued(svc, clock, "j")
    assert claim(first)[0] is Claim.CLAIMED
    second = queued(svc, clock, "j")

    assert claim(second) == (outcome, None)

    stored = row(svc, second)
    assert stored.state == state
    if overlap == "queue":
        assert stored.queued_at is None  # the scheduler hands it over again
    else:
        assert (stored.reason, stored.finished_at) == ("overlap", clock.now())


def test_runs_of_a_job_that_allows_overlap_all_start(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    add(svc, "j", overlap="allow")
    runs = [queued(svc, clock, "j") for _ in range(3)]
    assert [claim(r)[0] for r in runs] == [Claim.CLAIMED] * 3


def test_a_waiting_run_keeps_its_place_in_the_queue_whatever_order_it_was_claimed_in(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    add(svc, "j", overlap="queue")
    first = queued(svc, clock, "j")
    assert claim(first)[0] is Claim.CLAIMED
    clock.advance(1)
    second = queued(svc, clock, "j")
    clock.advance(1)
    third = queued(svc, clock, "j")
    # Claimed newest first, a second apart, both wait; each keeps its time in line.
    assert claim(third)[0] is Claim.BUSY
    clock.advance(1)
    assert claim(second)[0] is Claim.BUSY
    succeed(svc, clock, first)
    with transaction(svc.sessions) as session:
        due = run_store.due_pending(session, clock.now(), 10)
    assert [r.id for r in due] == [second, third]


def test_a_remote_at_its_limit_holds_the_runs_of_every_job_using_it(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    svc.remotes.add("nas", "local", {}, max_concurrency=1)
    add(svc, "a", params={"remotes": ["nas"]})
    add(svc, "b", params={"remotes": ["nas"]})
    add(svc, "free")
    a = queued(svc, clock, "a")
    b = queued(svc, clock, "b")
    assert claim(a)[0] is Claim.CLAIMED

    assert claim(b) == (Claim.BUSY, None)
    assert row(svc, b).state == "pending"
    assert claim(queued(svc, clock, "free"))[0] is Claim.CLAIMED  # not using it
    succeed(svc, clock, a)
    with transaction(svc.sessions) as session:
        run_store.mark_queued(session, [b], clock.now())
    assert claim(b)[0] is Claim.CLAIMED


def test_a_limited_remotes_run_of_a_running_job_follows_the_overlap_policy_first(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    svc.remotes.add("nas", "local", {}, max_concurrency=5)
    add(svc, "j", overlap="skip", params={"remotes": ["nas"]})
    assert claim(queued(svc, clock, "j"))[0] is Claim.CLAIMED
    assert claim(queued(svc, clock, "j")) == (Claim.SKIPPED, None)


def race(claim: Claimer, run_ids: list[int]) -> list[Claim]:
    """Claim each of `run_ids` from a thread of its own, all at once."""
    results: list[Claim] = []
    start = threading.Barrier(len(run_ids))

    def one(run_id: int) -> None:
        start.wait()
        results.append(claim(run_id)[0])

    threads = [threading.Thread(target=one, args=(r,)) for r in run_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_workers_racing_for_one_run_claim_it_once(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    add(svc, "j")
    run_id = queued(svc, clock, "j")
    results = race(claim, [run_id] * 8)
    assert sorted(results) == sorted([Claim.CLAIMED] + 7 * [Claim.GONE])


def test_workers_racing_for_the_runs_of_one_job_start_one(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    add(svc, "j", overlap="queue")
    runs = [queued(svc, clock, "j") for _ in range(6)]
    results = race(claim, runs)
    assert sorted(results) == sorted([Claim.CLAIMED] + 5 * [Claim.BUSY])


def test_workers_racing_for_a_limited_remote_start_no_more_than_its_limit(
    svc: Services, clock: FakeClock, claim: Claimer
) -> None:
    svc.remotes.add("nas", "local", {}, max_concurrency=2)
    for i in range(6):
        add(svc, f"j{i}", params={"remotes": ["nas"]})
    runs = [queued(svc, clock, f"j{i}") for i in range(6)]
    results = race(claim, runs)
    assert sorted(results) == sorted(2 * [Claim.CLAIMED] + 4 * [Claim.BUSY])


def test_a_worker_calls_the_claim_function_once_for_a_limited_remotes_run(
    svc: Services, clock: FakeClock, db_url: str
) -> None:
    """The runner's claim called the function in autocommit, then again inside the
    transaction of the statements that a limited remote's run takes."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the claim function is PostgreSQL's")
    svc.remotes.add("nas", "local", {}, max_concurrency=1)
    add(svc, "a", params={"remotes": ["nas"]})
    run_id = svc.runs.request("a")
    calls: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "synchub_claim" in statement:
            calls.append(statement)

    event.listen(svc.db, "before_cursor_execute", seen)
    try:
        assert Harness(svc, clock).step() == [run_id]
    finally:
        event.remove(svc.db, "before_cursor_execute", seen)
    assert svc.runs.show(run_id).state == "succeeded"
    assert len(calls) == 1


def test_the_function_waits_for_the_callers_unwritten_end_only_where_it_matters(
    svc: Services, clock: FakeClock, db_url: str
) -> None:
    """Told the job of the caller's run whose end is not written yet, the function
    does nothing for a run whose outcome that end could change: one of the same job
    that allows no overlap, or that never succeeded."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the claim function is PostgreSQL's")
    add(svc, "queue", overlap="queue")
    add(svc, "allow", overlap="allow")
    add(svc, "other")
    ids = {name: svc.jobs.show(name).id for name in ("queue", "allow", "other")}

    def in_one(run_id: int, unended: str) -> Any:
        with svc.db.connect() as conn:
            done = claims.claim_in_one(
                conn, run_id, worker="w", now=clock.now(), unended_job=ids[unended]
            )
            conn.commit()
        return done

    waiting = queued(svc, clock, "queue")
    assert in_one(waiting, "queue") == claims.WAIT
    assert row(svc, waiting).state == "queued"  # nothing done
    assert in_one(waiting, "other")[0] is Claim.CLAIMED
    first = queued(svc, clock, "allow")
    assert in_one(first, "allow") == claims.WAIT  # whether it is its job's first run
    assert in_one(first, "other")[0] is Claim.CLAIMED
    succeed(svc, clock, first)
    assert in_one(queued(svc, clock, "allow"), "allow")[0] is Claim.CLAIMED


def test_runs_claimed_together_end_as_each_would_alone_in_their_order(
    svc: Services, clock: FakeClock, db_url: str
) -> None:
    """One batch of every case: runs of one job by its overlap policy, a run gone, a
    run given twice, and a remote's limit; each outcome as if claimed one by one."""
    svc.remotes.add("nas", "local", {}, max_concurrency=1)
    for overlap in ("queue", "skip", "allow"):
        add(svc, overlap, overlap=overlap)
    add(svc, "a", params={"remotes": ["nas"]})
    add(svc, "b", params={"remotes": ["nas"]})
    queue1, skip1, allow1, queue2, skip2, allow2 = (
        queued(svc, clock, job) for job in ("queue", "skip", "allow") * 2
    )
    cancelled = queued(svc, clock, "allow")
    svc.runs.cancel(cancelled)
    a, b = queued(svc, clock, "a"), queued(svc, clock, "b")
    batch = [queue2, queue1, skip1, skip2, allow1, allow2, cancelled, 10_000, a, b, a]

    outcomes = claims.take_many(svc.sessions, batch, worker="w", clock=clock)

    assert [o for o, _ in outcomes] == [
        Claim.CLAIMED, Claim.BUSY, Claim.CLAIMED, Claim.SKIPPED, Claim.CLAIMED, Claim.CLAIMED,
        Claim.GONE, Claim.GONE, Claim.CLAIMED, Claim.BUSY, Claim.GONE,
    ]  # fmt: skip
    assert [c.run_id for _, c in outcomes if c is not None] == [queue2, skip1, allow1, allow2, a]
    states = {r: row(svc, r).state for r in (queue1, skip2, cancelled, b)}
    assert states == {queue1: "pending", skip2: "skipped", cancelled: "cancelled", b: "pending"}


def test_runs_claimed_together_cost_one_statement_on_postgresql_one_transaction_on_sqlite(
    svc: Services, clock: FakeClock, db_url: str
) -> None:
    for i in range(20):
        add(svc, f"j{i}")
    runs = [queued(svc, clock, f"j{i}") for i in range(20)]
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(svc.db, "before_cursor_execute", note)
    try:
        outcomes = claims.take_many(svc.sessions, runs, worker="w", clock=clock)
    finally:
        event.remove(svc.db, "before_cursor_execute", note)
    assert [o for o, _ in outcomes] == [Claim.CLAIMED] * 20
    if db_url.startswith("postgresql"):
        assert len([s for s in seen if "synchub_claim" in s]) == 1
        assert len(seen) == 2  # and its lock wait's bound
    else:
        assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN IMMEDIATE"]


def test_runs_claimed_together_wait_for_a_job_locked_elsewhere_no_longer_than_a_bound(
    svc: Services, clock: FakeClock, db_url: str
) -> None:
    """Rather than hold every run of the batch behind one job's lock, the batch fails
    having claimed nothing (each run is then claimed alone)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one write lock: nothing to wait for one job alone")
    add(svc, "locked")
    add(svc, "free")
    locked, free = queued(svc, clock, "locked"), queued(svc, clock, "free")
    with transaction(svc.sessions) as session:
        session.execute(select(JobRow.id).where(JobRow.name == "locked").with_for_update())
        with pytest.raises(OperationalError, match="lock timeout"):
            claims.take_many(svc.sessions, [free, locked], worker="w", clock=clock)
    assert (row(svc, locked).state, row(svc, free).state) == ("queued", "queued")


#: Each claim function's file as released. A migration creates the function from
#: it, so it never changes: a new claim is a new file, function name and migration.
RELEASED_SHA256 = {
    "synchub_claim_v1": "7d19dab9e27ae7aacf359f16c78801f8453e1af88faa7a241c5c23ffc3b8b10e",
    "synchub_claim_v2": "3abb2ca9dc1b72402fca13ffa3a4a73bdce38478473921a27c22d1837d5426f3",
}


@pytest.mark.parametrize("function", sorted(RELEASED_SHA256))
def test_a_released_claim_function_file_is_never_edited(function: str) -> None:
    text = claims.RELEASED[function].read_bytes()
    assert hashlib.sha256(text).hexdigest() == RELEASED_SHA256[function], (
        f"{claims.RELEASED[function].name} was edited: its migration would build another "
        "function from it. Put the change in a new file (synchub_claim_vN+1) with a "
        "migration of its own."
    )


def test_every_released_claim_function_is_pinned() -> None:
    assert sorted(claims.RELEASED) == sorted(RELEASED_SHA256)
    assert list(claims.RELEASED)[-1] == claims.FUNCTION
