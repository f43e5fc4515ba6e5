"""Each job's summary of its runs, kept by the database's triggers however a run
ends (the runner, the reaper, a cancel, a row written by hand), on SQLite and
PostgreSQL alike; and what the console reads from it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import claim as claims
from synchub.store import retention
from synchub.store import runs as run_store
from synchub.store.claim import Claim
from synchub.store.db import reading, transaction
from synchub.store.tables import JobSummaryRow
from tests.support.harness import Harness


@pytest.fixture
def harness(svc: Services, clock: FakeClock) -> Harness:
    return Harness(svc, clock)


def scripted(result: str, **more: Any) -> JobFields:
    return JobFields(kind="scripted", params={"result": result}, retries=0, **more)


def summary(svc: Services, name: str) -> JobSummaryRow | None:
    job_id = svc.jobs.show(name).id
    with reading(svc.sessions) as session:
        row = session.get(JobSummaryRow, job_id)
        if row is not None:
            session.expunge(row)
        return row


def ran(svc: Services, harness: Harness, name: str, result: str) -> int:
    """A run of `name` that ended as `result` (ok, fail) said."""
    svc.jobs.edit(name, JobFields(params={"result": result}))
    run_id = svc.runs.request(name)
    harness.step()
    return run_id


def ended(svc: Services, run_id: int) -> datetime:
    at = svc.runs.show(run_id).finished_at
    assert at is not None
    return datetime.fromisoformat(at)


def set_state(svc: Services, run_id: int, state: str) -> None:
    """What any writer does: one conditional update of the run's state."""
    with transaction(svc.sessions) as session:
        session.execute(
            text("UPDATE runs SET state = :state, finished_at = :at WHERE id = :id"),
            {"state": state, "at": svc.clock.now(), "id": run_id},
        )


def test_a_new_job_has_an_empty_summary_and_is_not_stale_before_its_bound(
    svc: Services,
) -> None:
    svc.jobs.add("hourly", scripted("ok", cron="0 * * * *", tz="UTC"))
    svc.jobs.add("manual", scripted("ok"))
    hourly, manual = summary(svc, "hourly"), summary(svc, "manual")
    assert hourly is not None and manual is not None
    assert (hourly.last_id, hourly.success_id, hourly.failing_id) == (None, None, None)
    # It should never be stale within two hourly periods of its creation.
    # An hourly schedule in UTC has all its gaps alike: stale after two hours, surely.
    assert (hourly.stale_min_s, hourly.stale_max_s) == (7200, 7200)
    assert hourly.stale_from == svc.clock.now() + timedelta(hours=2)
    assert hourly.surely_stale_from == hourly.stale_from
    # A job without a schedule is never stale.
    assert (manual.stale_min_s, manual.stale_from) == (None, None)


def test_a_success_a_failure_a_retry_and_a_success_again(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("backup", scripted("ok", cron="0 * * * *", tz="UTC"))
    ok = ran(svc, harness, "backup", "ok")
    after_ok = summary(svc, "backup")
    assert after_ok is not None
    assert (after_ok.last_id, after_ok.last_state, after_ok.success_id) == (ok, "succeeded", ok)
    assert after_ok.success_at == ended(svc, ok)
    assert after_ok.stale_from == after_ok.success_at + timedelta(hours=2)
    assert after_ok.surely_stale_from == after_ok.stale_from

    clock.advance(60)
    bad = ran(svc, harness, "backup", "fail")
    clock.advance(60)
    worse = ran(svc, harness, "backup", "fail")
    failing = summary(svc, "backup")
    assert failing is not None
    # It should be failing since its first failure after the success, not the last.
    assert (failing.last_id, failing.last_state) == (worse, "failed")
    assert (failing.success_id, failing.failing_id) == (ok, bad)
    assert failing.failing_since == ended(svc, bad)
    status = svc.overview.job("backup")
    assert status.failing and status.failing_since == svc.runs.show(bad).finished_at

    clock.advance(60)
    good = ran(svc, harness, "backup", "ok")
    recovered = summary(svc, "backup")
    assert recovered is not None
    assert (recovered.last_id, recovered.success_id, recovered.failing_id) == (good, good, None)
    assert recovered.failing_since is None
    assert not svc.overview.job("backup").failing


def test_a_dry_run_success_is_no_success(svc: Services, harness: Harness) -> None:
    svc.jobs.add("backup", scripted("ok"))
    run_id = svc.runs.request("backup")
    with transaction(svc.sessions) as session:
        session.execute(text("UPDATE runs SET dry_run = true WHERE id = :id"), {"id": run_id})
    harness.step()
    found = summary(svc, "backup")
    assert found is not None
    assert (found.last_id, found.last_state, found.success_id) == (run_id, "succeeded", None)


def test_a_running_run_leaves_the_summary_and_ends_the_failing(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("backup", scripted("fail"))
    bad = ran(svc, harness, "backup", "fail")
    svc.jobs.edit("backup", JobFields(params={"result": "block"}))
    again = svc.runs.request("backup")
    harness.scheduler.tick()
    with transaction(svc.sessions) as session:
        assert claims.claim(session, again, worker="w", now=clock.now()) == Claim.CLAIMED
    found = summary(svc, "backup")
    assert found is not None and (found.last_id, found.failing_id) == (bad, bad)
    # It should show the running run as the job's last, and the job as not failing.
    status = svc.overview.job("backup")
    assert status.last is not None and status.last.id == again and not status.failing
    assert [s.job.name for s in svc.overview.attention()] == []
    # The reaper's "lost" is a failure like any other.
    set_state(svc, again, "lost")
    lost = summary(svc, "backup")
    assert lost is not None and (lost.last_id, lost.last_state, lost.failing_id) == (
        again,
        "lost",
        bad,
    )
    assert [s.job.name for s in svc.overview.attention()] == ["backup"]


@pytest.mark.parametrize(
    ("state", "failing"),
    [
        ("timed_out", True),  # the runner's deadline passed
        ("cancelled", False),  # someone stopped it: not a failure
    ],
)
def test_a_run_that_timed_out_or_was_cancelled(
    svc: Services, harness: Harness, state: str, failing: bool
) -> None:
    svc.jobs.add("backup", scripted("block"))
    run_id = svc.runs.request("backup")
    harness.scheduler.tick()
    set_state(svc, run_id, state)
    found = summary(svc, "backup")
    assert found is not None and (found.last_id, found.last_state) == (run_id, state)
    assert (found.failing_id == run_id) is failing
    assert svc.overview.job("backup").failing is failing


def test_a_skipped_run_and_an_older_run_ending_late_change_no_last_run(
    svc: Services, harness: Harness
) -> None:
    svc.jobs.add("backup", scripted("block"))
    older = svc.runs.request("backup")
    newer = svc.runs.request("backup")
    harness.scheduler.tick()
    set_state(svc, newer, "succeeded")
    set_state(svc, older, "failed")  # ends after the newer one
    found = summary(svc, "backup")
    assert found is not None
    assert (found.last_id, found.last_state, found.success_id) == (newer, "succeeded", newer)
    assert found.failing_id is None  # a failure before the last success is no streak
    skipped = svc.runs.request("backup")
    set_state(svc, skipped, "skipped")
    again = summary(svc, "backup")
    assert again is not None and again.last_id == newer


def test_pruning_a_jobs_last_success_keeps_it_known(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("backup", scripted("ok", cron="0 * * * *", tz="UTC"))
    ok = ran(svc, harness, "backup", "ok")
    clock.advance(60)
    bad = ran(svc, harness, "backup", "fail")
    ended = svc.runs.show(ok).finished_at
    with transaction(svc.sessions) as session:
        assert retention.delete_runs(session, [ok, bad]) == 2
    found = summary(svc, "backup")
    assert found is not None
    # It should still know when it last succeeded, and that it fails since.
    assert (found.success_id, found.failing_id, found.last_state) == (ok, bad, "failed")
    status = svc.overview.job("backup")
    assert status.last_success_at == ended and status.failing
    assert status.last is None  # its runs are gone
    assert status.stale_for is None  # its success is recent: not stale for lack of a row


def test_deleting_a_jobs_runs_or_the_job(svc: Services, harness: Harness) -> None:
    svc.jobs.add("backup", scripted("ok"))
    ok = ran(svc, harness, "backup", "ok")
    job_id = svc.jobs.show("backup").id
    with transaction(svc.sessions) as session:
        assert run_store.remove_of_job(session, job_id) == 1
    kept = summary(svc, "backup")
    assert kept is not None and kept.success_id == ok
    svc.jobs.remove("backup")
    with reading(svc.sessions) as session:
        assert session.get(JobSummaryRow, job_id) is None


def test_a_new_schedule_gives_a_new_staleness_bound_whoever_writes_it(
    svc: Services, harness: Harness
) -> None:
    svc.jobs.add("backup", scripted("ok", cron="0 * * * *", tz="UTC"))
    ran(svc, harness, "backup", "ok")
    svc.jobs.edit("backup", JobFields(cron="0 3 * * *", tz="UTC"))
    daily = summary(svc, "backup")
    assert daily is not None and (daily.stale_min_s, daily.stale_max_s) == (2 * 86400, 2 * 86400)
    assert daily.success_at is not None
    assert daily.stale_from == daily.success_at + timedelta(days=2)
    assert daily.surely_stale_from == daily.stale_from
    # A schedule written by other means goes back to the hour no schedule is below.
    with transaction(svc.sessions) as session:
        session.execute(text("UPDATE jobs SET cron = '*/5 * * * *' WHERE name = 'backup'"))
    raw = summary(svc, "backup")
    assert raw is not None and (raw.stale_min_s, raw.stale_max_s) == (None, None)
    assert raw.stale_from == daily.success_at + timedelta(hours=1)
    assert raw.surely_stale_from is None  # the exact rule decides, until it is worked out
    with transaction(svc.sessions) as session:
        session.execute(text("UPDATE jobs SET schedule_kind = 'none', cron = NULL"))
    manual = summary(svc, "backup")
    assert manual is not None and manual.stale_from is None
