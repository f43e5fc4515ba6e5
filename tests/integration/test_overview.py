"""What the console asks the services: each job's last run and last success, which
jobs are failing or stale, a run's change report page by page, its retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import InvalidInput, JobNotFound, RunNotFound
from synchub.core.schedules import Schedule, ScheduleKind, cron_schedule, interval_schedule
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.overview import MIN_STALE, stale_after
from synchub.store import claim as claims
from synchub.store import logs as log_store
from synchub.store.claim import Claim
from synchub.store.db import transaction
from tests.support.harness import Harness

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def harness(svc: Services, clock: FakeClock) -> Harness:
    return Harness(svc, clock)


def test_a_job_is_stale_after_two_of_its_periods_and_never_without_a_schedule() -> None:
    assert stale_after(cron_schedule("30 2 * * *", "Europe/Berlin"), NOW) == timedelta(days=2)
    assert stale_after(interval_schedule(60, NOW), NOW) == MIN_STALE
    assert stale_after(Schedule(kind=ScheduleKind.NONE, tz="UTC"), NOW) is None


def scripted(result: str, **more: object) -> JobFields:
    return JobFields(kind="scripted", params={"result": result}, retries=0, **more)  # type: ignore[arg-type]


def test_failing_and_stale_jobs_need_attention_failing_first(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("good", scripted("ok", cron="0 * * * *"))
    svc.jobs.add("bad", scripted("fail", cron="0 * * * *"))
    svc.jobs.add("quiet", scripted("ok", cron="0 * * * *"))
    svc.jobs.add("manual", scripted("fail"))
    svc.jobs.add("off", scripted("fail", cron="0 * * * *", enabled=False))
    for name in ("good", "bad", "manual", "off"):
        svc.runs.request(name)
    harness.step()
    assert [s.job.name for s in svc.overview.attention()] == ["bad", "manual"]
    # Two hourly periods and a second later, with no run meanwhile, the scheduled
    # jobs are stale too: "good" since its success, "quiet" since it was made. The
    # manual job is never stale, the disabled one never needs attention.
    clock.advance(2 * 3600 + 1)
    found = svc.overview.attention()
    assert [(s.job.name, s.failing, s.stale_for) for s in found] == [
        ("bad", True, 7201), ("manual", True, None), ("good", False, 7201),
        ("quiet", False, 7201),
    ]  # fmt: skip
    # The first of them, in the same order, and how many there are.
    first = svc.overview.attention_page(3)
    assert first.shown == found[:3] and (first.count, first.failing) == (4, 2)


def test_each_jobs_last_run_and_last_success(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("flaky", scripted("ok"))
    first = svc.runs.request("flaky")
    harness.step()
    svc.jobs.edit("flaky", JobFields(params={"result": "fail"}))
    clock.advance(60)
    second = svc.runs.request("flaky")
    harness.step()
    svc.runs.request("flaky")  # waiting: not the last run
    status = svc.overview.job("flaky")
    assert status.last is not None and status.last.id == second
    assert status.failing
    assert status.last_success_at == svc.runs.show(first).finished_at
    page, more = svc.overview.jobs(limit=10)
    assert [s.job.name for s in page] == ["flaky"] and not more
    with pytest.raises(JobNotFound):
        svc.overview.job("nope")


def test_the_change_report_pages_by_row_and_filters_by_action(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("job", scripted("ok"))
    run_id = svc.runs.request("job")
    harness.step()
    with transaction(svc.sessions) as session:
        rows = [(f"f{i}", "deleted" if i % 3 == 0 else "copied", i, None, clock.now())
                for i in range(10)]  # fmt: skip
        log_store.add_files(session, run_id, rows, 0)
    first, more = svc.runs.file_page(run_id, limit=4)
    assert [f.path for f in first] == ["a.txt", "f0", "f1", "f2"] and more
    rest, more = svc.runs.file_page(run_id, after=first[-1].row, limit=100)
    assert [f.path for f in rest] == [f"f{i}" for i in range(3, 10)] and not more
    deleted, _ = svc.runs.file_page(run_id, action="deleted")
    assert [f.path for f in deleted] == ["f0", "f3", "f6", "f9"]
    with pytest.raises(InvalidInput, match="Bad action 'eaten'"):
        svc.runs.file_page(run_id, action="eaten")
    with pytest.raises(InvalidInput, match="Bad limit"):
        svc.runs.file_page(run_id, limit=0)
    with pytest.raises(RunNotFound):
        svc.runs.file_page(run_id + 100)


def test_a_run_knows_the_run_that_retries_it(svc: Services, harness: Harness) -> None:
    svc.jobs.add("job", scripted("fail"))
    run_id = svc.runs.request("job")
    harness.step()
    assert svc.runs.retried_by(run_id) is None
    retry = svc.runs.retry(run_id)
    assert svc.runs.retried_by(run_id) == retry
    assert svc.runs.retried_by(retry) is None


def test_running_runs_come_with_their_jobs_parameters(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("job", scripted("block"))
    run_id = svc.runs.request("job")
    assert svc.overview.running() == []
    harness.scheduler.tick()  # handed to the executor, which does not run it
    with transaction(svc.sessions) as session:
        assert claims.claim(session, run_id, worker="w", now=clock.now()) == Claim.CLAIMED
    [running] = svc.overview.running()
    run, params = running
    assert run.id == run_id and params["result"] == "block"


def test_derived_keys_differ_by_purpose_and_are_stable(svc: Services) -> None:
    one = svc.derived_key("console-session")
    assert one == svc.for_actor("x").derived_key("console-session")
    assert one != svc.derived_key("console-csrf") and len(one) == 32


def test_a_failing_job_is_failing_since_the_first_attempt_after_its_last_success(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add(
        "flaky", JobFields(kind="scripted", params={"result": "fail"}, retries=1, retry_delay="60s")
    )
    first = svc.runs.request("flaky")
    harness.step()
    clock.advance(61)
    harness.step()  # the retry, failed too: one failed chain of two attempts
    (retry,) = [r for r in svc.runs.page(job="flaky") if r.retry_of == first]
    assert svc.runs.show(retry.id).state == "failed"
    began = svc.runs.show(first).finished_at
    status = svc.overview.job("flaky")
    assert status.failing and status.failing_since == began
    # A success ends the streak; the next failure starts a new one.
    svc.jobs.edit("flaky", JobFields(params={"result": "ok"}))
    svc.runs.request("flaky")
    harness.step()
    assert svc.overview.job("flaky").failing_since is None
    svc.jobs.edit("flaky", JobFields(params={"result": "fail"}, retries=0))
    clock.advance(60)
    again = svc.runs.request("flaky")
    harness.step()
    assert svc.overview.job("flaky").failing_since == svc.runs.show(again).finished_at
    # A disabled job is not failing, so it has no streak to show.
    svc.jobs.edit("flaky", JobFields(enabled=False))
    assert svc.overview.job("flaky").failing_since is None
