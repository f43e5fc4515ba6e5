"""The daily digest, delivered for real by Apprise to a JSON receiver: one summary per
alert a day instead of a message per event, queued once even by two schedulers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import InvalidInput
from synchub.services import Services
from synchub.services.alert_digest import compose_due, queue_composed
from synchub.services.alerts import AlertChanges, AlertFields
from synchub.services.jobs.fields import JobFields
from tests.integration.test_alerts import Receiver
from tests.integration.test_alerts import receiver as receiver  # a fixture
from tests.support.harness import Harness

# The fake clock starts 2025-06-02 09:00 UTC; the settings' zone is Europe/Berlin
# (UTC+2 in June), so 08:00 there is 06:00 UTC the next morning.
FIRST_DUE = datetime(2025, 6, 3, 6, 0, tzinfo=UTC)


def tick(svc: Services) -> None:
    svc.alerts.examine()
    svc.alerts.examine_time()
    svc.alerts.deliver()


def run_once(harness: Harness, svc: Services, job: str, result: str) -> None:
    """One run of `job` to its end, a minute of time, and an alert pass."""
    svc.jobs.edit(job, JobFields(params={"result": result}))
    svc.runs.request(job)
    harness.step()
    harness.step()
    harness.clock.advance(60)
    tick(svc)


@pytest.fixture
def harness(svc: Services, clock: FakeClock) -> Harness:
    """The harness, with jobs `nightly` (succeeds, no retries) and `quiet`."""
    svc.jobs.add("nightly", JobFields(kind="scripted", params={"result": "ok"}, retries=0))
    svc.jobs.add("quiet", JobFields(kind="scripted"))
    return Harness(svc, clock)


def test_a_digest_alert_sends_one_summary_a_day_instead_of_each_event(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.alerts.add("daily", AlertFields(url=receiver.url, events=["failure", "recovery", "digest"]))
    assert svc.alerts.show("daily").digest_at == "08:00"
    for result in ("ok", "fail", "ok"):
        run_once(harness, svc, "nightly", result)
    assert receiver.bodies == []  # the digest summarises failure and recovery
    clock.set(FIRST_DUE - timedelta(seconds=1))
    tick(svc)
    assert receiver.bodies == []
    clock.set(FIRST_DUE)
    tick(svc)
    assert receiver.titles() == ["synchub: daily digest (1 failure)"]
    body = receiver.bodies[0]["message"]
    assert "From 2025-06-02T06:00+00:00 to 2025-06-03T06:00+00:00 (UTC)" in body
    assert "- nightly: runs: 1 failed, 2 succeeded; 6 B moved; 1 failure; 1 recovery" in body
    assert "1 other job: no runs" in body
    clock.advance(3600)
    tick(svc)
    assert len(receiver.bodies) == 1  # once a day
    clock.set(FIRST_DUE + timedelta(days=1))
    tick(svc)
    assert receiver.titles()[1:] == ["synchub: daily digest (0 failures)"]
    assert "2 other jobs: no runs" in receiver.bodies[1]["message"]


def test_an_alert_without_digest_still_tells_each_event(
    svc: Services, harness: Harness, receiver: Receiver
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url, events=["failure"]))
    svc.alerts.add("daily", AlertFields(url=receiver.url, events=["failure", "digest"]))
    run_once(harness, svc, "nightly", "fail")
    assert receiver.titles() == ["synchub: nightly failed"]  # from ops alone


def test_digest_at_is_read_in_the_default_zone_and_checked(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.alerts.add("daily", AlertFields(url=receiver.url, events=["digest"], digest_at="7:30"))
    assert svc.alerts.show("daily").digest_at == "07:30"
    for bad in ("24:00", "7", "07:60", "noon"):
        with pytest.raises(InvalidInput, match="Bad --digest-at"):
            svc.alerts.edit("daily", AlertChanges(digest_at=bad))
    assert svc.alerts.show("daily").digest_at == "07:30"
    svc.alerts.edit("daily", AlertChanges(digest_at="10:15"))  # 08:15 UTC
    clock.set(datetime(2025, 6, 3, 8, 14, tzinfo=UTC))
    tick(svc)
    assert receiver.bodies == []
    clock.set(datetime(2025, 6, 3, 8, 15, tzinfo=UTC))
    tick(svc)
    assert receiver.titles() == ["synchub: daily digest (0 failures)"]


def test_two_services_one_digest(
    svc: Services, harness: Harness, receiver: Receiver, settings: object, clock: FakeClock
) -> None:
    svc.alerts.add("daily", AlertFields(url=receiver.url, events=["digest"]))
    other = Services(settings, clock=clock, engines=svc.engines)  # type: ignore[arg-type]
    try:
        clock.set(FIRST_DUE)
        assert svc.alerts.examine_time() == 1
        assert other.alerts.examine_time() == 0
        # Both read the digest as due before either queues it: the write decides.
        clock.set(FIRST_DUE + timedelta(days=1))
        ours, theirs = compose_due(svc, clock.now()), compose_due(other, clock.now())
        assert len(ours) == len(theirs) == 1
        assert queue_composed(other, theirs, clock.now()) == 1
        assert queue_composed(svc, ours, clock.now()) == 0
        other.alerts.deliver()
        svc.alerts.deliver()
    finally:
        other.close()
    assert receiver.titles() == ["synchub: daily digest (0 failures)"] * 2


def test_the_digest_says_which_jobs_are_stale_and_what_fire_times_were_missed(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.alerts.add("daily", AlertFields(url=receiver.url, events=["stale", "digest"]))
    svc.jobs.add("hourly", JobFields(kind="scripted", cron="0 * * * *", retries=0))
    clock.set(FIRST_DUE)  # no success for 21 hours: stale, but told in the digest only
    tick(svc)
    assert receiver.titles() == ["synchub: daily digest (0 failures)"]
    assert (
        "- hourly: runs: none; 0 B moved; stale: no success since 2025-06-02T09:00"
        in (receiver.bodies[0]["message"])
    )


def test_a_retried_chain_is_one_failure_in_the_digest(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.alerts.add("daily", AlertFields(url=receiver.url, events=["digest"]))
    svc.jobs.add("flaky", JobFields(kind="scripted", params={"result": "fail"}, retries=1))
    svc.runs.request("flaky")
    for _ in range(4):  # the attempt, then its retry after the retry delay
        harness.step()
        clock.advance(600)
    assert [r.state for r in svc.runs.list(job="flaky")] == ["failed", "failed"]
    clock.set(FIRST_DUE)
    tick(svc)
    assert receiver.titles() == ["synchub: daily digest (1 failure)"]
    assert "- flaky: runs: 2 failed; 0 B moved; 1 failure" in receiver.bodies[0]["message"]
