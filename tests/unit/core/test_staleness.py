"""The bounds on how long a schedule lets a job go without a success: whatever moment
the console asks, the exact rule's answer lies between them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from synchub.core.schedules import Schedule, ScheduleKind, cron_schedule, interval_schedule
from synchub.core.staleness import MIN_STALE, stale_after, stale_after_bounds

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def test_an_interval_and_a_daily_time_in_utc_have_one_bound() -> None:
    assert stale_after_bounds(interval_schedule(6 * 3600, NOW), NOW) == (
        timedelta(hours=12),
        timedelta(hours=12),
    )
    assert stale_after_bounds(interval_schedule(60, NOW), NOW) == (MIN_STALE, MIN_STALE)
    daily = cron_schedule("30 2 * * *", "UTC")
    assert stale_after_bounds(daily, NOW) == (timedelta(days=2), timedelta(days=2))


def test_a_job_without_a_schedule_has_none() -> None:
    assert stale_after_bounds(Schedule(kind=ScheduleKind.NONE, tz="UTC"), NOW) is None


@pytest.mark.parametrize(
    ("cron", "tz"),
    [
        ("30 2 * * *", "Europe/Berlin"),  # daily, across both clock changes
        ("0 3 * * 1-5", "America/New_York"),  # weekdays: a three-day gap at weekends
        ("0 0 1 * *", "UTC"),  # monthly: February's short gap
        ("30 */2 * * *", "Australia/Lord_Howe"),  # a half-hour clock change
        ("15 9-17 * * *", "Europe/Riga"),  # office hours: short gaps and a long one
    ],
)
def test_the_exact_rule_stays_within_the_bounds_all_year(cron: str, tz: str) -> None:
    schedule = cron_schedule(cron, tz)
    bounds = stale_after_bounds(schedule, NOW)
    assert bounds is not None
    least, most = bounds
    for hours in range(0, 366 * 24, 5):
        exact = stale_after(schedule, NOW + timedelta(hours=hours))
        assert exact is not None
        assert least <= exact <= most, (NOW + timedelta(hours=hours), exact, bounds)
