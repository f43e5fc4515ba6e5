"""Run windows over both databases, time under the test's control: a fire while the
window is shut waits for it to open (one run per opening), runs asked for start at
once, retries wait too, a run that could only start after the close does nothing, and
an edit of the windows moves the runs waiting for them. Bad windows change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import InvalidInput
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView
from tests.support.harness import Harness

NIGHTS = ["22:00-06:00"]  # read in the default zone, Europe/Berlin (UTC+2 in June)


def hourly(**kw: object) -> JobFields:
    """A scripted job firing hourly, in the night window unless told."""
    params = {"result": kw.pop("result", "ok")}
    kw = {"cron": "0 * * * *", "windows": NIGHTS, **kw}
    return JobFields(kind="scripted", params=params, **kw)  # type: ignore[arg-type]


def utc(hour: int, minute: int = 0, day: int = 2) -> str:
    return datetime(2025, 6, day, hour, minute, tzinfo=UTC).isoformat()


def runs_of(svc: Services, job: str) -> list[RunView]:
    return list(reversed(svc.runs.list(job=job, limit=1000)))


def brief(runs: list[RunView]) -> list[tuple[object, ...]]:
    return [(r.scheduled_for, r.state, r.reason) for r in runs]


def until(clock: FakeClock, h: Harness, hour: int) -> list[int]:
    """Step the scheduler hour by hour until `hour` UTC of the same day; what ran."""
    ran: list[int] = []
    while clock.now().hour < hour:
        clock.advance(3600)
        ran += h.step()
    return ran


def test_a_fire_while_the_window_is_shut_waits_for_it_once(svc: Services, clock: FakeClock) -> None:
    # 09:00 UTC is 11:00 in Berlin: the night window is shut until 20:00 UTC.
    view = svc.jobs.add("nightly", hourly())
    assert (view.windows, view.windows_tz) == (NIGHTS, "Europe/Berlin")
    h = Harness(svc, clock)

    assert until(clock, h, 11) == []
    runs = runs_of(svc, "nightly")
    assert brief(runs) == [
        (utc(10), "pending", None),  # it waits for the window
        (utc(11), "skipped", "window"),  # one waits already: this adds nothing
    ]
    assert runs[0].not_before == utc(20)

    ran = until(clock, h, 20)  # 22:00 in Berlin: the window opens
    assert len(ran) == 1
    runs = runs_of(svc, "nightly")
    assert runs[0].state == "succeeded" and runs[0].started_at == utc(20)
    # Every later fire time until the opening (and the one at it) is recorded, once.
    assert [r.scheduled_for for r in runs] == [utc(hour) for hour in range(10, 21)]
    assert {(r.state, r.reason) for r in runs[1:]} == {("skipped", "window")}

    # Inside the window each fire time runs at once.
    assert len(until(clock, h, 21)) == 1
    assert brief(runs_of(svc, "nightly"))[-1] == (utc(21), "succeeded", None)


def test_a_manual_run_starts_at_once_whatever_the_window(svc: Services, clock: FakeClock) -> None:
    svc.jobs.add("nightly", hourly())
    h = Harness(svc, clock)
    run_id = svc.runs.request("nightly")
    assert h.step() == [run_id]
    assert svc.runs.show(run_id).state == "succeeded"


def test_a_retry_waits_for_the_window_too(svc: Services, clock: FakeClock) -> None:
    # 03:59 UTC is 05:59 in Berlin: the run fails a minute before the window closes.
    clock.set(datetime(2025, 6, 3, 3, 58, 30, tzinfo=UTC))
    svc.jobs.add("nightly", hourly(result="fail", cron="59 5 * * *", retries=1, retry_delay="10m"))
    h = Harness(svc, clock)
    clock.advance(30)
    assert len(h.step()) == 1
    first, retry = runs_of(svc, "nightly")
    assert first.state == "failed" and retry.trigger == "retry"
    assert retry.state == "pending" and retry.not_before == utc(20, day=3)
    # The failed run says when its retry starts: when the window opens again.
    assert first.next_step == "retry 1 of 1 (attempt 2) at 2025-06-03 20:00:00 UTC"


def test_a_run_that_could_start_only_after_the_close_does_nothing(
    svc: Services, clock: FakeClock
) -> None:
    clock.set(datetime(2025, 6, 3, 3, 30, tzinfo=UTC))  # 05:30 in Berlin: open
    svc.jobs.add("nightly", hourly(cron="45 5 * * *"))
    h = Harness(svc, clock)
    clock.advance(15 * 60)
    h.scheduler.tick()
    (run_id,) = h.executor.take()
    clock.advance(20 * 60)  # the pool was full until after 06:00
    h.runner.execute(run_id)
    run = svc.runs.show(run_id)
    assert (run.state, run.reason) == ("skipped", "window")
    assert "window was shut" in str(run.error)


def test_an_edit_of_the_windows_moves_the_waiting_run(svc: Services, clock: FakeClock) -> None:
    svc.jobs.add("nightly", hourly())
    h = Harness(svc, clock)
    until(clock, h, 10)
    assert runs_of(svc, "nightly")[0].not_before == utc(20)

    edited = svc.jobs.change("nightly", JobFields(windows=["12:00-13:00", "Sat 00:00-24:00"]))
    assert "windows" in edited.changed
    assert runs_of(svc, "nightly")[0].not_before == utc(10)  # 12:00 in Berlin: open now

    svc.jobs.change("nightly", JobFields(windows=[]))
    assert svc.jobs.show("nightly").windows == []
    assert h.step() != []


@pytest.mark.parametrize(
    ("windows", "says"),
    [
        (["25:00-26:00"], "Bad window '25:00-26:00': '25:00' is not a time of day"),
        (["22:00-06:00", "Xyz 01:00-02:00"], "unknown weekday 'Xyz'"),
        (["10:00-10:00"], "it opens and closes at the same time"),
        (["22:00"], "write [DAYS ]HH:MM-HH:MM"),
    ],
)
def test_a_bad_window_is_refused_and_changes_nothing(
    svc: Services, windows: list[str], says: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        svc.jobs.add("nightly", hourly(windows=windows))
    assert says in refused.value.message and refused.value.field == "windows"
    assert svc.jobs.list() == []

    svc.jobs.add("nightly", hourly())
    before = svc.jobs.show("nightly")
    with pytest.raises(InvalidInput):
        svc.jobs.change("nightly", JobFields(windows=windows))
    assert svc.jobs.show("nightly") == before


def test_disabling_the_job_withdraws_the_run_waiting_for_its_window(
    svc: Services, clock: FakeClock
) -> None:
    svc.jobs.add("nightly", hourly())
    h = Harness(svc, clock)
    until(clock, h, 10)
    assert brief(runs_of(svc, "nightly"))[0] == (utc(10), "pending", None)

    svc.jobs.set_enabled("nightly", False)
    assert brief(runs_of(svc, "nightly"))[0] == (utc(10), "skipped", "disabled")
    assert runs_of(svc, "nightly")[0].finished_at == clock.now().isoformat()
    assert until(clock, h, 21) == []  # the window opened (20:00 UTC): nothing started

    svc.jobs.set_enabled("nightly", True)  # fires again from now, into the open window
    clock.advance(3600)
    assert len(h.step()) == 1
