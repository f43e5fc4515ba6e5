"""The figures behind the console's charts, on SQLite and PostgreSQL: runs per UTC day
by outcome with the bytes moved, and a job's last runs with duration and bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import update

from synchub.core.clock import FakeClock
from synchub.core.errors import JobNotFound
from synchub.core.runs import RunStats
from synchub.engines.base import Outcome, RunContext
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store.db import transaction
from synchub.store.tables import RunRow
from tests.support.harness import Harness


class TimedKind:
    """Runs that take `seconds` on the test's clock and move `bytes`, or fail."""

    kind = "timed"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def validate(self, params: Mapping[str, Any], known_remotes: frozenset[str]) -> dict[str, Any]:
        return {"seconds": int(params.get("seconds", 0)), "bytes": int(params.get("bytes", 0)),
                "fail": bool(params.get("fail", False))}  # fmt: skip

    def remotes_used(self, params: Mapping[str, Any]) -> frozenset[str]:
        return frozenset()

    def run(self, ctx: RunContext) -> Outcome:
        self.clock.advance(ctx.params["seconds"])
        if ctx.params["fail"]:
            return Outcome(ok=False, exit_code=1, error_class="temporary", error="boom")
        return Outcome(ok=True, exit_code=0, stats=RunStats(bytes=ctx.params["bytes"], files=1))


@pytest.fixture
def harness(svc: Services, clock: FakeClock) -> Harness:
    svc.engines["timed"] = TimedKind(clock)  # type: ignore[assignment]
    return Harness(svc, clock)


def timed(seconds: int, moved: int, fail: bool = False) -> JobFields:
    params = {"seconds": seconds, "bytes": moved, "fail": fail}
    return JobFields(kind="timed", params=params, retries=0)


def mark_dry(svc: Services, run_id: int) -> None:
    """Make an ended run a dry run (only rclone jobs may ask for one)."""
    with transaction(svc.sessions) as session:
        session.execute(update(RunRow).where(RunRow.id == run_id).values(dry_run=True))


def run(svc: Services, harness: Harness, name: str, **how: Any) -> int:
    run_id = svc.runs.request(name, **how)
    harness.step()
    return run_id


def test_runs_per_day_count_each_outcome_and_the_bytes_moved(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    # The clock starts at 2025-06-02 09:00 UTC.
    svc.jobs.add("big", timed(60, 1000))
    svc.jobs.add("bad", timed(5, 0, fail=True))
    run(svc, harness, "big")  # day 06-02: one success, 1000 bytes
    clock.advance(86400)
    run(svc, harness, "big")  # day 06-03: two successes, one failure, 2000 bytes
    run(svc, harness, "big")
    run(svc, harness, "bad")
    mark_dry(svc, run(svc, harness, "big"))  # a dry run moves nothing
    svc.runs.cancel(svc.runs.request("big"))  # cancelled before it started
    clock.advance(2 * 86400)  # day 06-04 stays empty; now 06-05
    days = svc.activity.per_day(days=4)
    assert [d.as_dict() for d in days] == [
        {"day": "2025-06-02", "succeeded": 1, "failed": 0, "cancelled": 0, "bytes": 1000},
        {"day": "2025-06-03", "succeeded": 3, "failed": 1, "cancelled": 1, "bytes": 2000},
        {"day": "2025-06-04", "succeeded": 0, "failed": 0, "cancelled": 0, "bytes": 0},
        {"day": "2025-06-05", "succeeded": 0, "failed": 0, "cancelled": 0, "bytes": 0},
    ]
    # It should leave out what ended before the span.
    assert [d.succeeded for d in svc.activity.per_day(days=3)] == [3, 0, 0]


def test_a_days_bounds_are_midnight_utc(svc: Services, clock: FakeClock, harness: Harness) -> None:
    svc.jobs.add("late", timed(0, 1))
    clock.advance(14 * 3600 + 59 * 60 + 59)  # 2025-06-02 23:59:59 UTC
    run(svc, harness, "late")
    clock.advance(1)  # 2025-06-03 00:00:00 UTC
    run(svc, harness, "late")
    assert [(d.day, d.succeeded) for d in svc.activity.per_day(days=2)] == [
        ("2025-06-02", 1),
        ("2025-06-03", 1),
    ]


def test_a_jobs_history_is_its_last_ended_runs_oldest_first(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("photos", timed(90, 4096))
    svc.jobs.add("other", timed(1, 1))
    first = run(svc, harness, "photos")
    run(svc, harness, "other")
    svc.jobs.edit("photos", JobFields(params={"seconds": 30, "bytes": 0, "fail": True}))
    second = run(svc, harness, "photos")
    third = run(svc, harness, "photos")
    svc.runs.request("photos")  # waiting: not ended, not shown
    history = svc.activity.job_history("photos")
    assert [(h.id, h.outcome, h.duration_s, h.bytes) for h in history] == [
        (first, "succeeded", 90.0, 4096),
        (second, "failed", 30.0, 0),
        (third, "failed", 30.0, 0),
    ]
    assert history[0].finished_at == svc.runs.show(first).finished_at
    # It should keep only the newest runs when asked for fewer.
    assert [h.id for h in svc.activity.job_history("photos", limit=2)] == [second, third]
    with pytest.raises(JobNotFound):
        svc.activity.job_history("nope")


def test_a_day_that_is_over_is_counted_once_and_today_every_time(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("big", timed(0, 10))
    run(svc, harness, "big")  # 2025-06-02 09:00 UTC
    assert svc.activity.per_day(days=2)[-1].succeeded == 1
    run(svc, harness, "big")
    # It should count today again each time: its runs are still coming.
    assert svc.activity.per_day(days=2)[-1].succeeded == 2
    clock.advance(15 * 3600 + 30 * 60)  # 2025-06-03 00:30: yesterday may still settle
    svc.activity.per_day(days=2)
    mark_dry(svc, run(svc, harness, "big"))  # today's; yesterday is still counted
    clock.advance(3600)  # 01:30: yesterday is over, counted once more and kept
    assert [d.succeeded for d in svc.activity.per_day(days=2)] == [2, 1]
    with transaction(svc.sessions) as session:  # a change to a closed day is not seen
        session.execute(update(RunRow).values(stats=None))
    days = svc.activity.per_day(days=2)
    assert [(d.succeeded, d.bytes) for d in days] == [(2, 20), (1, 0)]
    # It should share the figures with the services acting for each visitor.
    assert svc.for_actor("bob").activity.per_day(days=2) == days


def test_a_closed_hour_is_counted_once_and_the_open_ones_every_time(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("big", timed(0, 10))
    early = run(svc, harness, "big")  # 2025-06-02 09:00 UTC
    clock.advance(3 * 3600)  # 12:00: the 09:00 hour is over
    assert svc.activity.per_day(days=1)[-1].succeeded == 1
    with transaction(svc.sessions) as session:  # a change to a closed hour is not seen
        session.execute(update(RunRow).where(RunRow.id == early).values(stats=None))
    # It should show a run that ended in an open hour at once.
    late = run(svc, harness, "big")  # 12:00
    assert [(d.succeeded, d.bytes) for d in svc.activity.per_day(days=1)] == [(2, 20)]
    # It should count an hour again while a run that ended in it may still be written.
    clock.advance(3000)  # 12:50
    svc.activity.per_day(days=1)
    with transaction(svc.sessions) as session:
        ended = clock.now().replace(hour=11, minute=59)
        session.execute(update(RunRow).where(RunRow.id == late).values(finished_at=ended))
    mark_dry(svc, run(svc, harness, "big"))  # 12:50
    assert [(d.succeeded, d.bytes) for d in svc.activity.per_day(days=1)] == [(3, 20)]


def first_day(svc: Services) -> tuple[int, int]:
    day = svc.activity.per_day(days=3)[0]
    return day.succeeded, day.bytes


def test_deleted_runs_leave_the_closed_days(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("big", replace(timed(0, 10), keep_runs="1"))
    svc.jobs.add("gone", timed(0, 100))
    for _ in range(3):
        run(svc, harness, "big")  # 2025-06-02
    run(svc, harness, "gone")
    clock.advance(2 * 86400)
    assert first_day(svc) == (4, 130)
    # It should count the days again once pruning deleted runs that ended in them.
    assert svc.retention.prune().runs == 2
    assert first_day(svc) == (2, 110)
    # And once a job's removal took its runs.
    svc.jobs.remove("gone")
    assert first_day(svc) == (1, 10)
