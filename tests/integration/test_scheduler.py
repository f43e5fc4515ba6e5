"""The scheduler over real databases, with time under the test's control."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from synchub.store.db import transaction
from synchub.store.tables import RunRow
from tests.support.harness import Harness


def scripted_job(**kw: object) -> JobFields:
    params = {"result": kw.pop("result", "ok")}
    return JobFields(kind="scripted", params=params, **kw)  # type: ignore[arg-type]


def runs_of(svc: Services, job: str) -> list[RunView]:
    return list(reversed(svc.runs.list(job=job, limit=1000)))


def test_an_interval_job_fires_on_its_grid_and_only_once_per_fire_time(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("every5", scripted_job(every="5s"))
    h = Harness(svc, clock)
    # It should not fire before its first fire time.
    assert h.step() == []
    clock.advance(5)
    assert len(h.step()) == 1
    # It should not fire again for the same time, however often the scheduler looks.
    assert h.step() == []
    assert h.step() == []
    clock.advance(5)
    assert len(h.step()) == 1
    runs = runs_of(svc, "every5")
    assert [r.scheduled_for for r in runs] == [
        "2025-06-02T09:00:05+00:00",
        "2025-06-02T09:00:10+00:00",
    ]
    assert all(r.state == "succeeded" for r in runs)


def test_two_schedulers_on_one_database_fire_each_time_once(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("tick", scripted_job(every="1s"))
    a, b = Harness(svc, clock, "node-a"), Harness(svc, clock, "node-b")
    for _ in range(30):
        clock.advance(1)
        a.step()
        b.step()
    runs = runs_of(svc, "tick")
    fire_times = [r.scheduled_for for r in runs]
    assert len(fire_times) == 30
    assert len(set(fire_times)) == 30
    # It should be the leader alone that ran them.
    assert {r.worker for r in runs} == {"node-a"}


def test_a_follower_takes_over_when_the_leader_stops_renewing(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("tick", scripted_job(every="1s"))
    a, b = Harness(svc, clock, "node-a"), Harness(svc, clock, "node-b")
    clock.advance(1)
    a.step()
    b.step()
    assert a.scheduler.leading and not b.scheduler.leading
    # node-a dies: after the lease time node-b leads and catches up.
    clock.advance(11)
    b.step()
    assert b.scheduler.leading
    fire_times = [r.scheduled_for for r in runs_of(svc, "tick")]
    assert len(fire_times) == len(set(fire_times))


def test_a_unique_index_refuses_a_second_run_for_one_fire_time(svc: Services) -> None:
    from synchub.core.runs import Trigger
    from synchub.store import jobs as job_store
    from synchub.store import runs as run_store

    svc.jobs.add("j", scripted_job(every="1m"))
    at = datetime(2025, 6, 2, 9, 1, tzinfo=UTC)
    with transaction(svc.sessions) as session:
        job = job_store.get(session, "j")
        assert job is not None
        first = run_store.create(session, job, trigger=Trigger.SCHEDULE, now=at, scheduled_for=at)
        second = run_store.create(session, job, trigger=Trigger.SCHEDULE, now=at, scheduled_for=at)
    assert first is not None
    assert second is None
    with transaction(svc.sessions) as session:
        assert session.scalar(select(func.count(RunRow.id))) == 1


@pytest.mark.parametrize(
    ("policy", "ran", "skipped"),
    [
        ("once", 1, 9),  # the ten missed fires coalesce into one run
        ("skip", 0, 10),  # every missed fire recorded as skipped, none run
        ("all", 10, 0),  # every missed fire runs (at most ten)
    ],
)
def test_fire_times_missed_while_down_follow_the_misfire_policy(
    svc: Services, clock: FakeClock, policy: str, ran: int, skipped: int
) -> None:
    svc.jobs.add("hourly", scripted_job(cron="0 * * * *", tz="UTC", misfire=policy))
    h = Harness(svc, clock)
    # The server is down from 09:00 to 19:30: fire times 10:00 ... 19:00 are missed.
    clock.set(datetime(2025, 6, 2, 19, 30, tzinfo=UTC))
    h.step()
    runs = runs_of(svc, "hourly")
    states = [r.state for r in runs]
    assert states.count("succeeded") == ran
    assert states.count("skipped") == skipped
    assert all(r.reason == "missed" for r in runs if r.state == "skipped")
    # It should then fire normally at 20:00, and nothing in between.
    clock.set(datetime(2025, 6, 2, 19, 59, tzinfo=UTC))
    assert h.step() == []
    clock.set(datetime(2025, 6, 2, 20, 0, 0, 3000, tzinfo=UTC))
    assert len(h.step()) == 1


def test_a_schedule_edit_counts_from_now_without_a_spurious_run(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("j", scripted_job(cron="0 3 * * *", tz="UTC"))
    h = Harness(svc, clock)
    h.step()
    clock.set(datetime(2025, 6, 2, 12, 0, tzinfo=UTC))
    # Every minute, starting after the edit: 12:00 itself is not due.
    view = svc.jobs.edit("j", JobFields(cron="* * * * *"))
    assert view.next_fire_at == "2025-06-02T12:01:00+00:00"
    assert h.step() == []
    clock.advance(60)
    assert len(h.step()) == 1


def test_disabling_a_job_stops_it_and_enabling_counts_from_now(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("j", scripted_job(every="10s"))
    h = Harness(svc, clock)
    svc.jobs.set_enabled("j", False)
    clock.advance(3600)
    assert h.step() == []
    svc.jobs.set_enabled("j", True)
    assert h.step() == []
    assert runs_of(svc, "j") == []


def test_a_run_whose_heartbeat_lapses_is_lost_and_retried(svc: Services, clock: FakeClock) -> None:
    from synchub.store import claim as claims

    svc.jobs.add("j", scripted_job(retries=2, retry_delay="10s"))
    run_id = svc.runs.request("j")
    h = Harness(svc, clock)
    h.scheduler.tick()
    (dispatched,) = h.executor.take()
    with transaction(svc.sessions) as session:
        assert claims.claim(session, dispatched, worker="dead-worker", now=clock.now())
    clock.advance(1)
    h.scheduler.tick()  # the scheduler sees the claim's heartbeat
    assert svc.runs.show(run_id).state == "running"
    # The worker dies without a word: when its heartbeat has not changed for 30 s,
    # its run is lost.
    clock.advance(29)
    h.scheduler.tick()
    assert svc.runs.show(run_id).state == "running"
    clock.advance(1)
    h.scheduler.tick()
    lost = svc.runs.show(run_id)
    assert lost.state == "lost"
    assert lost.celery_state == "RETRY"
    retry = runs_of(svc, "j")[-1]
    assert retry.trigger == "retry"
    assert retry.retry_of == run_id
    assert retry.attempt == 2
    # It should wait for its backoff (5-10 s for the first retry) and then run.
    clock.advance(10)
    assert h.step() == [retry.id]
    assert svc.runs.show(retry.id).state == "succeeded"


def test_a_lost_run_with_no_retry_left_is_counted_and_logged(
    svc: Services, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """`end_run` once answered None for "ended, no retry", which the reaper read as
    "not ended": such a run became lost without a count or a warning."""
    from synchub.store import claim as claims

    svc.jobs.add("j", scripted_job(retries=0))
    run_id = svc.runs.request("j")
    h = Harness(svc, clock)
    h.scheduler.tick()
    (dispatched,) = h.executor.take()
    with transaction(svc.sessions) as session:
        assert claims.claim(session, dispatched, worker="dead-worker", now=clock.now())
    assert h.scheduler.reap() == 0  # the heartbeat is first seen
    clock.advance(31)
    with caplog.at_level("WARNING", logger="synchub"):
        assert h.scheduler.reap() == 1
    assert svc.runs.show(run_id).state == "lost"
    assert f"run {run_id} lost: no retry left" in caplog.text
    assert [r.id for r in runs_of(svc, "j")] == [run_id]


def test_a_retry_keeps_the_queue_its_run_was_sent_to_whoever_asks_for_it(
    svc: Services, clock: FakeClock
) -> None:
    """The policy's retry kept a run's queue override and a person's retry dropped it:
    both now make the same next attempt."""
    svc.jobs.add("j", scripted_job(result="fail", retries=1, retry_delay="10s"))
    (first,) = svc.runs.request_many(["j"], queue="slow")
    h = Harness(svc, clock)
    assert h.step() == [first]
    automatic = runs_of(svc, "j")[-1]
    assert (automatic.retry_of, automatic.queue) == (first, "slow")
    manual = svc.runs.show(svc.runs.retry(first))
    assert (manual.retry_of, manual.attempt, manual.queue) == (first, 2, "slow")


def test_the_scheduler_sleeps_until_the_next_fire_time(svc: Services, clock: FakeClock) -> None:
    svc.jobs.add("j", scripted_job(cron="* * * * *", tz="UTC"))
    h = Harness(svc, clock)
    clock.set(datetime(2025, 6, 2, 9, 0, 59, 500_000, tzinfo=UTC))
    h.scheduler.settings = h.scheduler.settings.__class__(poll_s=30, lease_s=300)
    assert h.scheduler.tick() == pytest.approx(0.5)


def ahead(h: Harness, seconds: float = 0.1) -> Harness:
    """The harness's scheduler firing `seconds` ahead of each fire time."""
    h.scheduler.settings = replace(h.scheduler.settings, fire_ahead_s=seconds)
    return h


def test_a_job_fires_ahead_and_its_run_starts_at_its_fire_time(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("every5", scripted_job(every="5s"))
    h = ahead(Harness(svc, clock))
    # It should not fire earlier than the lead before its fire time (09:00:05).
    clock.set(datetime(2025, 6, 2, 9, 0, 4, 800_000, tzinfo=UTC))
    h.scheduler.tick()
    assert h.executor.submitted == []
    # Within the lead it fires: the run is created and handed over with its fire time.
    clock.set(datetime(2025, 6, 2, 9, 0, 4, 950_000, tzinfo=UTC))
    h.scheduler.tick()
    (run_id,) = h.executor.submitted
    fire = datetime(2025, 6, 2, 9, 0, 5, tzinfo=UTC)
    assert h.executor.starts == {run_id: fire}
    run = svc.runs.show(run_id)
    assert run.scheduled_for == "2025-06-02T09:00:05+00:00"
    assert run.state == "queued"
    # The runner waits for the fire time before it claims (the fake clock only notes it).
    clock.slept.clear()
    h.runner.execute(h.executor.take()[0], h.executor.starts.pop(run_id))
    assert clock.slept == [pytest.approx(0.05)]
    assert svc.runs.show(run_id).state == "succeeded"
    # It should not fire that time again, nor the next one before its own lead.
    clock.set(datetime(2025, 6, 2, 9, 0, 5, 100_000, tzinfo=UTC))
    assert h.step() == []
    assert [r.scheduled_for for r in runs_of(svc, "every5")] == ["2025-06-02T09:00:05+00:00"]


def test_the_scheduler_wakes_ahead_of_the_next_fire_time(svc: Services, clock: FakeClock) -> None:
    svc.jobs.add("j", scripted_job(cron="* * * * *", tz="UTC"))
    h = ahead(Harness(svc, clock))
    clock.set(datetime(2025, 6, 2, 9, 0, 59, 500_000, tzinfo=UTC))
    h.scheduler.settings = replace(h.scheduler.settings, poll_s=30, lease_s=300)
    assert h.scheduler.tick() == pytest.approx(0.4)


def test_missed_fire_times_follow_the_misfire_policy_and_the_one_ahead_runs(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("hourly", scripted_job(cron="0 * * * *", tz="UTC", misfire="skip"))
    h = ahead(Harness(svc, clock))
    # Down from 09:00 to 10:59:59.95: 10:00 was missed; 11:00 is within the lead.
    clock.set(datetime(2025, 6, 2, 10, 59, 59, 950_000, tzinfo=UTC))
    h.step()
    runs = {r.scheduled_for: r for r in runs_of(svc, "hourly")}
    assert runs["2025-06-02T10:00:00+00:00"].state == "skipped"
    assert runs["2025-06-02T11:00:00+00:00"].state == "succeeded"
    assert len(runs) == 2


def test_disabling_a_job_within_the_lead_withdraws_its_run_fired_ahead(
    svc: Services, clock: FakeClock
) -> None:
    from synchub.store import claim as claims

    svc.jobs.add("j", scripted_job(every="10s"))
    h = ahead(Harness(svc, clock))
    clock.set(datetime(2025, 6, 2, 9, 0, 9, 950_000, tzinfo=UTC))
    h.scheduler.tick()
    (run_id,) = h.executor.take()
    svc.jobs.set_enabled("j", False)
    # The run is gone: a worker holding its message finds nothing to claim.
    assert runs_of(svc, "j") == []
    with transaction(svc.sessions) as session:
        claim = claims.claim(session, run_id, worker="w", now=clock.now())
    assert claim is claims.Claim.GONE


def test_a_schedule_edit_within_the_lead_refires_a_time_the_new_schedule_keeps(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("j", scripted_job(every="60s"))
    h = ahead(Harness(svc, clock))
    clock.set(datetime(2025, 6, 2, 9, 0, 59, 950_000, tzinfo=UTC))
    h.scheduler.tick()
    h.executor.take()
    # Every minute on the minute fires at 09:01:00 too: one run for it, of the new schedule.
    svc.jobs.edit("j", JobFields(cron="* * * * *", tz="UTC"))
    assert [r.id for r in runs_of(svc, "j")] == []
    h.scheduler.wake()  # as a change does in `serve` and `scheduler`
    assert len(h.step()) == 1
    runs = runs_of(svc, "j")
    assert [(r.scheduled_for, r.state) for r in runs] == [
        ("2025-06-02T09:01:00+00:00", "succeeded")
    ]


def test_an_edit_that_keeps_the_schedule_keeps_the_run_fired_ahead(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("j", scripted_job(every="60s"))
    h = ahead(Harness(svc, clock))
    clock.set(datetime(2025, 6, 2, 9, 0, 59, 950_000, tzinfo=UTC))
    h.scheduler.tick()
    (run_id,) = h.executor.take()
    svc.jobs.edit("j", JobFields(retries=5))
    assert [r.id for r in runs_of(svc, "j")] == [run_id]


def test_a_long_outage_records_its_latest_missed_fire_times_and_counts_the_older(
    svc: Services, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The chaos test of `serve` killed anywhere relies on it: where a restart took
    # over 100 s (seeds 3600904293 and 42933928), it took the fire times counted in
    # the warning for lost ones.
    from synchub.scheduler.loop import MAX_RECORDED_MISSES

    svc.jobs.add("tick", scripted_job(every="1s", misfire="once"))
    h = Harness(svc, clock)
    clock.advance(1)
    assert len(h.step()) == 1
    clock.advance(300)  # down for five minutes
    h.step()
    runs = [r for r in runs_of(svc, "tick") if r.scheduled_for]
    skipped = [r for r in runs if r.state == "skipped"]
    assert len(skipped) == MAX_RECORDED_MISSES
    assert all(r.reason == "missed" for r in skipped)
    (told,) = [r.getMessage() for r in caplog.records if "not recorded" in r.getMessage()]
    unrecorded = int(told.split()[2])
    assert told == f"job tick: {unrecorded} more missed fire times not recorded"
    # The older ones are those counted: one gap of that many seconds, after the
    # last fire before the outage.
    fired = sorted(datetime.fromisoformat(str(r.scheduled_for)) for r in runs)
    gaps = [(b - a).total_seconds() - 1 for a, b in itertools.pairwise(fired)]
    assert [g for g in gaps if g] == [unrecorded], gaps
    assert gaps.index(unrecorded) == 0
