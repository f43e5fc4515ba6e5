"""Alerts that time alone brings, delivered for real by Apprise to a JSON receiver:
`stale` (no success for too long) and `long` (a run still going), each told once."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from synchub.core.clock import FakeClock
from synchub.core.errors import InvalidInput
from synchub.services import Services
from synchub.services.alerts import AlertFields
from synchub.services.jobs.fields import JobFields
from synchub.store.db import transaction
from synchub.store.tables import RunRow
from tests.integration.test_alerts import Receiver, ends
from tests.integration.test_alerts import receiver as receiver  # a fixture
from tests.support.harness import Harness
from tests.support.kinds import ScriptedKind


def tick(svc: Services) -> None:
    svc.alerts.examine_time()
    svc.alerts.deliver()


@pytest.fixture
def harness(svc: Services, clock: FakeClock) -> Harness:
    """The harness, with job `hourly` (at minute 0, no retries)."""
    # Hourly at minute 0; the fake clock starts at a whole hour or later.
    svc.jobs.add("hourly", JobFields(kind="scripted", cron="0 * * * *", retries=0))
    return Harness(svc, clock)


def test_a_scheduled_job_without_success_is_stale_once_after_two_intervals_and_an_hour(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url))  # failure, recovery, stale
    svc.jobs.add("by-hand", JobFields(kind="scripted"))  # no schedule: never stale
    added = clock.now()
    second_fire = svc.jobs.next("hourly", 2)[1]
    deadline = second_fire + timedelta(hours=1)
    clock.set(deadline - timedelta(seconds=1))
    tick(svc)
    assert receiver.bodies == []
    clock.set(deadline)
    tick(svc)
    assert receiver.titles() == ["synchub: hourly is stale"]
    assert (
        f"no success since {added.isoformat(timespec='seconds')}" in (receiver.bodies[0]["message"])
    )
    # It should tell once per change of state: still stale tells nothing more.
    clock.advance(86400)
    tick(svc)
    assert len(receiver.bodies) == 1
    # A success starts the count again; staleness after it is told again.
    ends(harness, svc, "hourly", "ok")
    tick(svc)
    assert len(receiver.bodies) == 1
    clock.advance(3 * 3600 + 1)
    tick(svc)
    assert receiver.titles()[1:] == ["synchub: hourly is stale"]


def test_stale_after_is_the_jobs_own_and_a_muted_job_tells_after_its_mute(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url, events=["stale"]))
    svc.jobs.edit("hourly", JobFields(stale_after="30m"))
    assert svc.jobs.show("hourly").stale_after_s == 1800
    svc.jobs.mute("hourly", "1h")
    clock.advance(1801)
    tick(svc)
    assert receiver.bodies == []  # muted
    clock.advance(3600)
    tick(svc)
    assert receiver.titles() == ["synchub: hourly is stale"]
    svc.jobs.edit("hourly", JobFields(stale_after="auto"))
    assert svc.jobs.show("hourly").stale_after_s is None
    with pytest.raises(InvalidInput, match="stale-after"):
        svc.jobs.edit("hourly", JobFields(stale_after="soon"))


def test_two_passes_tell_a_stale_job_once(
    svc: Services, harness: Harness, receiver: Receiver, settings: object, clock: FakeClock
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url, events=["stale"]))
    other = Services(settings, clock=clock, engines=svc.engines)  # type: ignore[arg-type]
    try:
        clock.advance(4 * 3600)
        assert svc.alerts.examine_time() == 1
        assert other.alerts.examine_time() == 0
        other.alerts.deliver()
        svc.alerts.deliver()
    finally:
        other.close()
    assert receiver.titles() == ["synchub: hourly is stale"]


def run_blocked(
    harness: Harness, svc: Services, scripted: ScriptedKind, job: str
) -> threading.Thread:
    """Start a run of `job` that blocks until `scripted.release` is set."""
    svc.jobs.edit(job, JobFields(params={"result": "block"}))
    scripted.running = threading.Semaphore(0)  # count this run's start only
    svc.runs.request(job)
    worker = threading.Thread(target=harness.step)
    worker.start()
    assert scripted.running.acquire(timeout=30), "the run did not start"
    return worker


def test_a_run_going_longer_than_long_after_tells_once(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock, scripted: ScriptedKind
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url, events=["long"]))
    svc.jobs.set_enabled("hourly", False)  # only the run under test runs
    svc.jobs.add("copy", JobFields(kind="scripted", retries=0, long_after="2h"))
    worker = run_blocked(harness, svc, scripted, "copy")
    try:
        clock.advance(2 * 3600 - 1)
        tick(svc)
        assert receiver.bodies == []
        clock.advance(1)
        tick(svc)
        assert receiver.titles() == ["synchub: copy is taking long"]
        assert "has been going for 2h (long after 2h" in receiver.bodies[0]["message"]
        clock.advance(3600)
        tick(svc)
        assert len(receiver.bodies) == 1  # once per run
    finally:
        scripted.release.set()
        worker.join()


def test_without_long_after_a_run_is_long_at_3x_the_median_of_its_successes(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock, scripted: ScriptedKind
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url, events=["long"]))
    svc.jobs.set_enabled("hourly", False)  # only the run under test runs
    svc.jobs.add("copy", JobFields(kind="scripted", retries=0))
    for _ in range(5):
        ends(harness, svc, "copy", "ok")
    with transaction(svc.sessions) as session:  # the fake clock stood still: 10 minutes each
        for run in session.scalars(select(RunRow)):
            assert run.finished_at is not None
            run.started_at = run.finished_at - timedelta(minutes=10)
    worker = run_blocked(harness, svc, scripted, "copy")
    try:
        clock.advance(1799)
        tick(svc)
        assert receiver.bodies == []
        clock.advance(1)
        tick(svc)
        assert receiver.titles() == ["synchub: copy is taking long"]
    finally:
        scripted.release.set()
        worker.join()


def test_fire_times_skipped_by_the_misfire_policy_tell_once_per_pass(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url, events=["missed"]))
    svc.jobs.edit("hourly", JobFields(misfire="skip"))
    clock.advance(5 * 3600)  # nothing ran for five hours: the fifth fire time is now
    harness.step()
    svc.alerts.examine()
    svc.alerts.deliver()
    assert receiver.titles() == ["synchub: hourly skipped 4 fire times"]
    assert "nothing was running at the time (misfire policy)" in receiver.bodies[0]["message"]
    # It should tell each skipped time once: another pass finds nothing new.
    svc.alerts.examine()
    svc.alerts.deliver()
    assert len(receiver.bodies) == 1
    clock.advance(3600)
    harness.step()
    svc.alerts.examine()
    svc.alerts.deliver()
    assert len(receiver.bodies) == 1  # on time: it ran


def test_a_watched_folder_that_cannot_be_watched_tells_once_per_change(
    svc: Services, receiver: Receiver, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    params = {"source": str(inbox), "destination": str(tmp_path / "copy")}
    svc.jobs.add("inbox", JobFields(kind="rclone", params=params, watch=True))
    svc.alerts.add("ops", AlertFields(url=receiver.url, events=["watch"]))
    tick(svc)
    assert receiver.bodies == []
    inbox.rmdir()  # e.g. a drive unplugged
    tick(svc)
    tick(svc)
    assert receiver.titles() == ["synchub: inbox cannot watch its folder"]
    assert str(inbox) in receiver.bodies[0]["message"]
    # It should tell again only after the folder came back and went again.
    inbox.mkdir()
    tick(svc)
    assert len(receiver.bodies) == 1
    inbox.rmdir()
    tick(svc)
    assert receiver.titles()[1:] == ["synchub: inbox cannot watch its folder"]
