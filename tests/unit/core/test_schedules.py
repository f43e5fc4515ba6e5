"""When runs happen: cron as Debian cron reads it, intervals, misfires, descriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from synchub.core.errors import InvalidInput, InvalidSchedule
from synchub.core.schedules import (
    MISFIRE_ALL_LIMIT,
    MisfirePolicy,
    Schedule,
    ScheduleKind,
    cron_schedule,
    decide_misfires,
    describe,
    fires_between,
    gap_after,
    interval_schedule,
    iter_fires,
    local_zone_name,
    next_fire,
    next_fires,
    zone,
)


def local_fires(expr: str, tz: str, after: str, count: int) -> list[str]:
    """The next `count` fires of `expr` after the ISO instant `after`, as ISO in `tz`."""
    fires = next_fires(cron_schedule(expr, tz), datetime.fromisoformat(after), count)
    assert all(fire.tzinfo is UTC for fire in fires)
    return [fire.astimezone(ZoneInfo(tz)).isoformat() for fire in fires]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- Cron syntax -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # every minute
        ("* * * * *", ["2025-01-06T10:01:00+00:00", "2025-01-06T10:02:00+00:00"]),
        # a list of minutes
        ("5,35 * * * *", ["2025-01-06T10:05:00+00:00", "2025-01-06T10:35:00+00:00"]),
        # a range of hours
        ("0 22-23 * * *", ["2025-01-06T22:00:00+00:00", "2025-01-06T23:00:00+00:00"]),
        # a step over the whole field
        ("*/20 * * * *", ["2025-01-06T10:20:00+00:00", "2025-01-06T10:40:00+00:00"]),
        # a step over a range
        ("10-50/20 * * * *", ["2025-01-06T10:10:00+00:00", "2025-01-06T10:30:00+00:00"]),
        # a list mixing a number and a stepped range
        ("0 1,12-23/6 * * *", ["2025-01-06T12:00:00+00:00", "2025-01-06T18:00:00+00:00"]),
        # day of month and month
        ("0 0 15 3 *", ["2025-03-15T00:00:00+00:00", "2026-03-15T00:00:00+00:00"]),
        # extra blanks and tabs between fields are fine
        ("  0\t0  15 3 *  ", ["2025-03-15T00:00:00+00:00", "2026-03-15T00:00:00+00:00"]),
        # the documented extensions: the month's last day, last weekday, last Friday,
        # second Monday (2025-05-31 is a Saturday)
        ("0 2 L * *", ["2025-01-31T02:00:00+00:00", "2025-02-28T02:00:00+00:00"]),
        ("0 2 LW 5 *", ["2025-05-30T02:00:00+00:00", "2026-05-29T02:00:00+00:00"]),
        ("0 2 * * 5L", ["2025-01-31T02:00:00+00:00", "2025-02-28T02:00:00+00:00"]),
        ("0 2 * * 1#2", ["2025-01-13T02:00:00+00:00", "2025-02-10T02:00:00+00:00"]),
    ],
)
def test_it_reads_the_five_field_syntax(expr: str, expected: list[str]) -> None:
    # 2025-01-06 is a Monday.
    assert local_fires(expr, "UTC", "2025-01-06T10:00:00+00:00", 2) == expected


def test_it_reads_month_and_day_names_in_any_case() -> None:
    after = "2025-01-01T00:00:00+00:00"
    named = local_fires("0 9 * jan-MAR Mon,fri", "UTC", after, 27)
    numbered = local_fires("0 9 * 1-3 1,5", "UTC", after, 27)
    assert named == numbered
    assert named[:3] == [
        "2025-01-03T09:00:00+00:00",  # Friday
        "2025-01-06T09:00:00+00:00",  # Monday
        "2025-01-10T09:00:00+00:00",  # Friday
    ]
    assert named[-2:] == [
        "2025-03-31T09:00:00+00:00",  # the last Monday of March
        "2026-01-02T09:00:00+00:00",  # the first Friday of next January
    ]


@pytest.mark.parametrize("sunday", ["0", "7", "sun", "SUN"])
def test_day_of_week_zero_and_seven_both_mean_sunday(sunday: str) -> None:
    # 2025-01-05 and 2025-01-12 are Sundays.
    assert local_fires(f"0 12 * * {sunday}", "UTC", "2025-01-01T00:00:00+00:00", 2) == [
        "2025-01-05T12:00:00+00:00",
        "2025-01-12T12:00:00+00:00",
    ]


def test_a_range_ending_at_seven_includes_sunday() -> None:
    assert local_fires("0 12 * * 6-7", "UTC", "2025-01-01T00:00:00+00:00", 3) == [
        "2025-01-04T12:00:00+00:00",  # Saturday
        "2025-01-05T12:00:00+00:00",  # Sunday
        "2025-01-11T12:00:00+00:00",  # Saturday
    ]


@pytest.mark.parametrize(
    ("macro", "same_as"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@DAILY", "0 0 * * *"),  # macros ignore case
    ],
)
def test_macros_fire_like_the_expression_they_stand_for(macro: str, same_as: str) -> None:
    after = "2024-12-30T10:30:00+01:00"
    assert local_fires(macro, "Europe/Berlin", after, 5) == local_fires(
        same_as, "Europe/Berlin", after, 5
    )


def test_weekly_fires_at_midnight_on_sunday() -> None:
    assert local_fires("@weekly", "UTC", "2025-01-01T00:00:00+00:00", 2) == [
        "2025-01-05T00:00:00+00:00",
        "2025-01-12T00:00:00+00:00",
    ]


def test_it_keeps_the_expression_as_written_without_outer_blanks() -> None:
    schedule = cron_schedule("  @daily ", "Europe/Berlin")
    assert schedule == Schedule(kind=ScheduleKind.CRON, cron="@daily", tz="Europe/Berlin")


# Debian cron (and Vixie cron before it): when both day fields are restricted a day
# matches if EITHER matches; when one of them starts with "*" (even "*/2") BOTH must.
# October 2025: the 13th is a Monday; Fridays are the 3rd, 10th, 17th, 24th and 31st.


def test_a_day_matches_when_either_day_field_matches_if_both_are_restricted() -> None:
    assert local_fires("0 0 13 * 5", "UTC", "2025-10-01T00:00:00+00:00", 5) == [
        "2025-10-03T00:00:00+00:00",  # Friday
        "2025-10-10T00:00:00+00:00",  # Friday
        "2025-10-13T00:00:00+00:00",  # the 13th, a Monday
        "2025-10-17T00:00:00+00:00",  # Friday
        "2025-10-24T00:00:00+00:00",  # Friday
    ]


def test_a_stepped_star_in_day_of_month_makes_both_day_fields_required() -> None:
    # */2 in day-of-month is days 1, 3, 5, ...: only odd-numbered Fridays match.
    assert local_fires("0 0 */2 * 5", "UTC", "2025-10-01T00:00:00+00:00", 4) == [
        "2025-10-03T00:00:00+00:00",
        "2025-10-17T00:00:00+00:00",
        "2025-10-31T00:00:00+00:00",
        "2025-11-07T00:00:00+00:00",
    ]


def test_a_stepped_star_in_day_of_week_makes_both_day_fields_required() -> None:
    # */2 in day-of-week is Sunday, Tuesday, Thursday and Saturday. The 13th is a
    # Monday in October 2025, a Thursday in November and a Saturday in December.
    assert local_fires("0 0 13 * */2", "UTC", "2025-10-01T00:00:00+00:00", 2) == [
        "2025-11-13T00:00:00+00:00",
        "2025-12-13T00:00:00+00:00",
    ]


def test_a_day_that_only_some_months_have_fires_in_those_months() -> None:
    assert local_fires("0 0 31 * *", "UTC", "2025-01-01T00:00:00+00:00", 3) == [
        "2025-01-31T00:00:00+00:00",
        "2025-03-31T00:00:00+00:00",
        "2025-05-31T00:00:00+00:00",
    ]
    assert local_fires("0 0 29 2 *", "UTC", "2025-01-01T00:00:00+00:00", 2) == [
        "2028-02-29T00:00:00+00:00",
        "2032-02-29T00:00:00+00:00",
    ]


@pytest.mark.parametrize(
    "expr",
    [
        "0 0 30 2 *",  # February never has a 30th
        "0 0 31 4,6,9,11 *",  # nor do these months have a 31st
        "0 0 31 2 */2",  # a stepped star day-of-week still needs the 31st
    ],
)
def test_it_rejects_a_schedule_that_can_never_fire(expr: str) -> None:
    with pytest.raises(InvalidSchedule, match="can never fire"):
        cron_schedule(expr, "UTC")


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("60 * * * *", "bad minute '60'"),
        ("* 24 * * *", "bad hour '24'"),
        ("0 0 0 * *", "bad day-of-month '0'"),
        ("0 0 32 * *", "bad day-of-month '32'"),
        ("0 0 * 13 *", "bad month '13'"),
        ("0 0 * * 8", "bad day-of-week '8'"),
        ("0 0 * * funday", "bad day-of-week 'funday'"),
        ("*/0 * * * *", "bad minute '\\*/0'"),  # a zero step
        ("30-10 * * * *", "bad minute '30-10'"),  # a backwards range
        ("0 * * * * *", "expected 5 fields .* got 6"),  # no seconds field
        ("0 * * *", "expected 5 fields .* got 4"),
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("@reboot", "unknown macro"),
        ("0 2 15W * *", "bad day-of-month '15W'"),
        ("0 2 ? * *", "bad day-of-month '\\?'"),
        ("0 2 * * L", "bad day-of-week 'L'"),
    ],
)
def test_it_rejects_bad_expressions_saying_what_is_wrong(expr: str, problem: str) -> None:
    with pytest.raises(InvalidSchedule, match=f"Bad cron expression.*{problem}"):
        cron_schedule(expr, "UTC")


@pytest.mark.parametrize("name", ["Mars/Base", "", "Europe", "../etc/passwd", "europe/berlin"])
def test_it_rejects_an_unknown_time_zone(name: str) -> None:
    with pytest.raises(InvalidSchedule, match="Unknown time zone"):
        cron_schedule("0 0 * * *", name)
    with pytest.raises(InvalidSchedule, match="Unknown time zone"):
        zone(name)


def test_a_bad_schedule_is_bad_input() -> None:
    # The API answers InvalidInput with 422 and the CLI with exit code 2.
    with pytest.raises(InvalidInput):
        cron_schedule("60 * * * *", "UTC")


def test_it_names_the_bad_zone() -> None:
    with pytest.raises(InvalidSchedule, match="'Mars/Base'"):
        cron_schedule("0 0 * * *", "Mars/Base")


def test_a_cron_schedule_needs_an_expression() -> None:
    with pytest.raises(InvalidSchedule):
        Schedule(kind=ScheduleKind.CRON, cron=None)


def test_it_refuses_a_naive_after() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_fire(cron_schedule("0 0 * * *", "UTC"), datetime(2025, 1, 1))


# --- Daylight saving time, as Debian cron does it ----------------------------------------
#
# Debian cron sorts jobs in two kinds by their minute and hour fields:
# - fixed-time jobs (neither field starts with "*"): a time skipped by a spring-forward
#   change runs right after the change, and a time repeated by a fall-back change runs
#   only the first time round;
# - wildcard jobs (either field starts with "*", so they fire every hour or more often):
#   they run whenever the wall clock shows a matching minute, so they follow real
#   elapsed time.

# Europe/Berlin, DST starts (clock moves 1 hour forward) on 2025-03-30 at 02:00 CET:
#   2025-03-30T01:59:00+01:00
#   2025-03-30T03:00:00+02:00
# DST ends (clock moves 1 hour backward) on 2025-10-26 at 03:00 CEST:
#   2025-10-26T02:59:00+02:00
#   2025-10-26T02:00:00+01:00


def test_berlin_a_fire_time_in_the_spring_gap_fires_once_right_after_it() -> None:
    assert local_fires("30 2 * * *", "Europe/Berlin", "2025-03-29T12:00:00+01:00", 3) == [
        "2025-03-30T03:00:00+02:00",
        "2025-03-31T02:30:00+02:00",
        "2025-04-01T02:30:00+02:00",
    ]


def test_berlin_fire_times_in_and_at_the_end_of_the_gap_fire_once() -> None:
    # 02:00 does not exist and moves to 03:00, where the 03:00 fire already is.
    assert local_fires("0 1-4 * * *", "Europe/Berlin", "2025-03-30T00:00:00+01:00", 3) == [
        "2025-03-30T01:00:00+01:00",
        "2025-03-30T03:00:00+02:00",
        "2025-03-30T04:00:00+02:00",
    ]


def test_berlin_it_fires_once_when_clocks_go_back() -> None:
    assert local_fires("30 2 * * *", "Europe/Berlin", "2025-10-25T12:00:00+02:00", 3) == [
        "2025-10-26T02:30:00+02:00",
        "2025-10-27T02:30:00+01:00",
        "2025-10-28T02:30:00+01:00",
    ]


def test_berlin_fixed_hours_do_not_repeat_when_clocks_go_back() -> None:
    assert local_fires("0 1-4 * * *", "Europe/Berlin", "2025-10-26T00:00:00+02:00", 4) == [
        "2025-10-26T01:00:00+02:00",
        "2025-10-26T02:00:00+02:00",
        "2025-10-26T03:00:00+01:00",
        "2025-10-26T04:00:00+01:00",
    ]


@pytest.mark.parametrize(
    "after",
    [
        "2025-10-26T02:15:00+01:00",  # second pass, before the wall-clock fire time
        "2025-10-26T02:45:00+01:00",  # second pass, after it
    ],
)
def test_berlin_it_does_not_fire_again_when_asked_during_the_repeated_hour(after: str) -> None:
    assert local_fires("30 2 * * *", "Europe/Berlin", after, 1) == [
        "2025-10-27T02:30:00+01:00",
    ]


def test_berlin_an_hourly_schedule_follows_real_time_when_clocks_go_forward() -> None:
    assert local_fires("0 * * * *", "Europe/Berlin", "2025-03-30T00:30:00+01:00", 3) == [
        "2025-03-30T01:00:00+01:00",
        "2025-03-30T03:00:00+02:00",
        "2025-03-30T04:00:00+02:00",
    ]


def test_berlin_an_hourly_schedule_follows_real_time_when_clocks_go_back() -> None:
    assert local_fires("0 * * * *", "Europe/Berlin", "2025-10-26T01:30:00+02:00", 3) == [
        "2025-10-26T02:00:00+02:00",
        "2025-10-26T02:00:00+01:00",
        "2025-10-26T03:00:00+01:00",
    ]


def test_berlin_a_half_hourly_schedule_fires_in_both_passes_of_the_repeated_hour() -> None:
    assert local_fires("*/30 * * * *", "Europe/Berlin", "2025-10-26T01:45:00+02:00", 5) == [
        "2025-10-26T02:00:00+02:00",
        "2025-10-26T02:30:00+02:00",
        "2025-10-26T02:00:00+01:00",
        "2025-10-26T02:30:00+01:00",
        "2025-10-26T03:00:00+01:00",
    ]


# America/New_York, DST starts on 2025-03-09 at 02:00 EST:
#   2025-03-09T01:59:00-05:00
#   2025-03-09T03:00:00-04:00
# DST ends on 2025-11-02 at 02:00 EDT:
#   2025-11-02T01:59:00-04:00
#   2025-11-02T01:00:00-05:00


def test_new_york_a_fire_time_in_the_spring_gap_fires_once_right_after_it() -> None:
    assert local_fires("30 2 * * *", "America/New_York", "2025-03-08T12:00:00-05:00", 3) == [
        "2025-03-09T03:00:00-04:00",
        "2025-03-10T02:30:00-04:00",
        "2025-03-11T02:30:00-04:00",
    ]


def test_new_york_it_fires_once_when_clocks_go_back() -> None:
    assert local_fires("30 1 * * *", "America/New_York", "2025-11-01T12:00:00-04:00", 3) == [
        "2025-11-02T01:30:00-04:00",
        "2025-11-03T01:30:00-05:00",
        "2025-11-04T01:30:00-05:00",
    ]


def test_new_york_an_hourly_schedule_follows_real_time_when_clocks_go_forward() -> None:
    assert local_fires("0 * * * *", "America/New_York", "2025-03-09T00:30:00-05:00", 3) == [
        "2025-03-09T01:00:00-05:00",
        "2025-03-09T03:00:00-04:00",
        "2025-03-09T04:00:00-04:00",
    ]


def test_new_york_an_hourly_schedule_follows_real_time_when_clocks_go_back() -> None:
    assert local_fires("0 * * * *", "America/New_York", "2025-11-02T00:30:00-04:00", 4) == [
        "2025-11-02T01:00:00-04:00",
        "2025-11-02T01:00:00-05:00",
        "2025-11-02T02:00:00-05:00",
        "2025-11-02T03:00:00-05:00",
    ]


# Australia/Lord_Howe shifts by half an hour.
# DST starts (clock moves 30 minutes forward) on 2025-10-05 at 02:00 +10:30:
#   2025-10-05T01:59:00+10:30
#   2025-10-05T02:30:00+11:00
# DST ends (clock moves 30 minutes backward) on 2025-04-06 at 02:00 +11:00:
#   2025-04-06T01:59:00+11:00
#   2025-04-06T01:30:00+10:30


def test_lord_howe_a_fire_time_in_the_spring_gap_fires_once_right_after_it() -> None:
    assert local_fires("15 2 * * *", "Australia/Lord_Howe", "2025-10-04T12:00:00+10:30", 3) == [
        "2025-10-05T02:30:00+11:00",
        "2025-10-06T02:15:00+11:00",
        "2025-10-07T02:15:00+11:00",
    ]


def test_lord_howe_it_fires_once_when_clocks_go_back() -> None:
    assert local_fires("45 1 * * *", "Australia/Lord_Howe", "2025-04-05T12:00:00+11:00", 3) == [
        "2025-04-06T01:45:00+11:00",
        "2025-04-07T01:45:00+10:30",
        "2025-04-08T01:45:00+10:30",
    ]


def test_lord_howe_an_hourly_schedule_follows_real_time_when_clocks_go_forward() -> None:
    # 01:30 and 02:30 are 30 real minutes apart; the wall clock shows both.
    assert local_fires("30 * * * *", "Australia/Lord_Howe", "2025-10-05T00:45:00+10:30", 3) == [
        "2025-10-05T01:30:00+10:30",
        "2025-10-05T02:30:00+11:00",
        "2025-10-05T03:30:00+11:00",
    ]
    # 01:00 and 03:00 are 90 real minutes apart; the wall clock never shows 02:00.
    assert local_fires("0 * * * *", "Australia/Lord_Howe", "2025-10-05T00:45:00+10:30", 2) == [
        "2025-10-05T01:00:00+10:30",
        "2025-10-05T03:00:00+11:00",
    ]


def test_lord_howe_an_hourly_schedule_follows_real_time_when_clocks_go_back() -> None:
    # The wall clock shows 01:30 twice, 30 real minutes apart.
    assert local_fires("30 * * * *", "Australia/Lord_Howe", "2025-04-06T00:45:00+11:00", 3) == [
        "2025-04-06T01:30:00+11:00",
        "2025-04-06T01:30:00+10:30",
        "2025-04-06T02:30:00+10:30",
    ]
    # 01:00 and 02:00 are 90 real minutes apart.
    assert local_fires("0 * * * *", "Australia/Lord_Howe", "2025-04-06T00:45:00+11:00", 2) == [
        "2025-04-06T01:00:00+11:00",
        "2025-04-06T02:00:00+10:30",
    ]


def test_lord_howe_a_wildcard_schedule_fires_in_both_passes_of_the_repeated_half_hour() -> None:
    assert local_fires("*/20 * * * *", "Australia/Lord_Howe", "2025-04-06T01:15:00+11:00", 5) == [
        "2025-04-06T01:20:00+11:00",
        "2025-04-06T01:40:00+11:00",
        "2025-04-06T01:40:00+10:30",
        "2025-04-06T02:00:00+10:30",
        "2025-04-06T02:20:00+10:30",
    ]


# A minute-by-minute model of Debian cron's main loop (cron.c, 3.0pl1-debian): each real
# minute it compares the wall clock with the "virtual" time it last handled. One minute
# later: run everything. 6 minutes to 3 hours later (DST began): run wildcard jobs for
# now, and fixed-time jobs for every skipped minute. Up to 3 hours earlier (DST ended):
# run only wildcard jobs, and keep the virtual time until the wall clock catches up.


def debian_cron_fires(text: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """The real minutes in (start, end] at which Debian cron would run `text`."""
    wildcard = text.split()[0].startswith("*") or text.split()[1].startswith("*")

    def matches(wall: datetime) -> bool:
        return bool(next(CronSim(text, wall - timedelta(seconds=1))) == wall)

    def runs(wall: datetime, *, wild: bool, fixed: bool) -> bool:
        return (wild if wildcard else fixed) and matches(wall)

    def wall_clock(at: datetime) -> datetime:
        return at.astimezone(tz).replace(tzinfo=None)

    minute = timedelta(minutes=1)
    out: list[datetime] = []
    virtual = wall_clock(start)
    now = start + minute
    while now <= end:
        running = wall_clock(now)
        ahead = (running - virtual) // minute
        if ahead == 1:
            virtual = running
            fired = runs(virtual, wild=True, fixed=True)
        elif 5 < ahead <= 180:
            fired = runs(running, wild=True, fixed=False)
            while virtual < running:
                virtual += minute
                fired = runs(virtual, wild=False, fixed=True) or fired
        elif -180 < ahead <= 0:
            fired = runs(running, wild=True, fixed=False)
        else:  # 2 to 5 minutes late, or a big jump: no DST change does this
            raise AssertionError(f"unexpected jump of {ahead} minutes")
        if fired:
            out.append(now)
        now += minute
    return out


DST_ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute shift
    "Pacific/Chatham",  # changes at 02:45 and 03:45
    "America/Santiago",  # midnight does not exist on the day DST starts
    "America/St_Johns",
    "Antarctica/Troll",  # 2-hour shift
    "Africa/Casablanca",  # DST backwards, suspended for Ramadan
]
ZONES = ["UTC", "Asia/Kolkata", *DST_ZONES]


def offset_changes(name: str) -> list[datetime]:
    """The hours of 2025 and 2026 at whose start `name` has a new UTC offset (to the hour)."""
    tz = ZoneInfo(name)
    hours = [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(2 * 8760)]
    return [
        b
        for a, b in pairwise(hours)
        if a.astimezone(tz).utcoffset() != b.astimezone(tz).utcoffset()
    ]


CHANGES = [(name, at) for name in DST_ZONES for at in offset_changes(name)]


def field(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    """Random text for one cron field whose numbers run from `low` to `high`."""
    number = st.integers(low, high)
    single = number.map(str)
    if names:
        single = single | st.sampled_from(names)
    span = st.tuples(number, number).map(lambda ab: f"{min(ab)}-{max(ab)}")
    return st.one_of(
        st.just("*"),
        st.integers(1, high - low + 1).map(lambda n: f"*/{n}"),
        single,
        span,
        st.tuples(span, st.integers(1, 12)).map(lambda sn: f"{sn[0]}/{sn[1]}"),
        st.lists(single | span, min_size=2, max_size=4).map(",".join),
    )


MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
EXPRESSIONS = st.tuples(
    field(0, 59), field(0, 23), field(1, 31), field(1, 12, MONTHS), field(0, 7, DAYS)
).map(" ".join)
#: Mostly the first hours of the day, where the clock changes.
DST_EXPRESSIONS = st.tuples(
    field(0, 59), st.one_of(field(0, 4), field(0, 23)), st.just("*"), st.just("*"), field(0, 7)
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(expr=DST_EXPRESSIONS, change=st.sampled_from(CHANGES))
def test_it_agrees_with_a_model_of_debian_cron_around_every_clock_change(
    expr: str, change: tuple[str, datetime]
) -> None:
    name, at = change
    schedule = cron_schedule(expr, name)
    start, end = at - timedelta(hours=4), at + timedelta(hours=4)
    ours, cut = fires_between(schedule, start + timedelta(seconds=1), end, 1000)
    assert not cut
    assert ours == debian_cron_fires(expr, ZoneInfo(name), start, end)


def matching_wall_clock(text: str, wall: datetime) -> bool:
    """cronsim's verdict: does the naive wall-clock minute `wall` match `text`?"""
    return bool(next(CronSim(text, wall - timedelta(seconds=1))) == wall)


@settings(max_examples=300, deadline=None)
@given(
    expr=EXPRESSIONS,
    name=st.sampled_from(ZONES),
    after=st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
)
def test_next_fires_are_increasing_later_than_after_and_on_matching_minutes(
    expr: str, name: str, after: datetime
) -> None:
    try:
        schedule = cron_schedule(expr, name)
    except InvalidSchedule:
        assume(False)
        raise
    tz = ZoneInfo(name)
    fixed_time = not expr.split()[0].startswith("*") and not expr.split()[1].startswith("*")
    fires = next_fires(schedule, after, 4)

    assert len(fires) == 4
    assert fires[0] > after
    assert all(a < b for a, b in pairwise(fires))
    for fire in fires:
        assert fire.tzinfo is UTC
        assert (fire.second, fire.microsecond) == (0, 0)
        wall = fire.astimezone(tz).replace(tzinfo=None)
        if not matching_wall_clock(expr, wall):
            # Only a fixed-time fire moved out of a spring-forward gap may not match:
            # then the clock jumped forward just now, over a matching minute.
            before = (fire - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None)
            assert fixed_time
            assert wall - before > timedelta(seconds=1)
            assert next(CronSim(expr, before)) < wall
    if fixed_time:
        # No wall-clock time fires twice, even when the clock goes back.
        walls = [fire.astimezone(tz).replace(tzinfo=None) for fire in fires]
        assert len(set(walls)) == len(walls)
    # Asking again from any fire gives the rest of the same sequence.
    assert next_fires(schedule, fires[1], 2) == fires[2:]


# --- Intervals ---------------------------------------------------------------------------

ANCHOR = utc("2025-01-01T00:00:00")


def test_an_interval_fires_at_the_anchor_plus_whole_intervals() -> None:
    schedule = interval_schedule(3600, ANCHOR)
    assert next_fires(schedule, utc("2025-01-01T05:30:00"), 3) == [
        utc("2025-01-01T06:00:00"),
        utc("2025-01-01T07:00:00"),
        utc("2025-01-01T08:00:00"),
    ]


def test_an_interval_fires_strictly_after_after() -> None:
    schedule = interval_schedule(3600, ANCHOR)
    assert next_fire(schedule, utc("2025-01-01T06:00:00")) == utc("2025-01-01T07:00:00")
    assert next_fire(schedule, utc("2025-01-01T05:59:59.999999")) == utc("2025-01-01T06:00:00")


def test_an_interval_first_fires_at_the_anchor_when_asked_before_it() -> None:
    schedule = interval_schedule(900, ANCHOR)
    assert next_fires(schedule, utc("2024-12-31T12:00:00"), 2) == [
        ANCHOR,
        utc("2025-01-01T00:15:00"),
    ]


def test_an_interval_does_not_drift_from_its_anchor_after_years() -> None:
    anchor = utc("2025-01-01T00:00:07.123456")
    schedule = interval_schedule(7, anchor)
    after = anchor + timedelta(days=3653, microseconds=5)
    fire = next_fire(schedule, after)
    assert fire is not None
    assert (fire - anchor) % timedelta(seconds=7) == timedelta(0)
    assert after < fire <= after + timedelta(seconds=7)
    assert fire.microsecond == 123456


def test_an_interval_counts_real_time_across_clock_changes() -> None:
    # Europe/Berlin: DST starts on 2025-03-30 at 02:00 CET, so 24 real hours after
    # 12:00 CET is 13:00 CEST.
    berlin = ZoneInfo("Europe/Berlin")
    schedule = interval_schedule(86400, datetime(2025, 3, 29, 12, 0, tzinfo=berlin))
    fires = next_fires(schedule, datetime(2025, 3, 29, 12, 0, tzinfo=berlin), 2)
    assert [f.astimezone(berlin).isoformat() for f in fires] == [
        "2025-03-30T13:00:00+02:00",
        "2025-03-31T13:00:00+02:00",
    ]


@pytest.mark.parametrize("every_s", [0, -60])
def test_an_interval_must_be_at_least_a_second(every_s: int) -> None:
    with pytest.raises(InvalidSchedule, match="at least 1s"):
        interval_schedule(every_s, ANCHOR)


def test_an_interval_anchor_needs_a_time_zone() -> None:
    with pytest.raises(InvalidSchedule, match="anchor"):
        interval_schedule(60, datetime(2025, 1, 1))


@settings(max_examples=300, deadline=None)
@given(
    every_s=st.integers(1, 40 * 86400),
    anchor=st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    after=st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
)
def test_an_interval_fires_at_the_first_anchor_multiple_after_after(
    every_s: int, anchor: datetime, after: datetime
) -> None:
    schedule = interval_schedule(every_s, anchor)
    every = timedelta(seconds=every_s)
    fires = next_fires(schedule, after, 3)
    assert fires[0] > after
    assert fires[0] == anchor or fires[0] - every <= after
    assert fires[0] >= anchor
    assert all((fire - anchor) % every == timedelta(0) for fire in fires)
    assert fires[1] - fires[0] == every
    assert fires[2] - fires[1] == every


def test_a_manual_schedule_never_fires() -> None:
    schedule = Schedule()
    assert next_fire(schedule, ANCHOR) is None
    assert next_fires(schedule, ANCHOR, 3) == []
    assert list(iter_fires(schedule, ANCHOR)) == []


# --- fires_between -----------------------------------------------------------------------


def test_fires_between_includes_both_ends() -> None:
    schedule = cron_schedule("0 * * * *", "UTC")
    fires, cut = fires_between(schedule, utc("2025-01-01T10:00"), utc("2025-01-01T12:00"), 10)
    assert fires == [utc("2025-01-01T10:00"), utc("2025-01-01T11:00"), utc("2025-01-01T12:00")]
    assert cut is False


def test_fires_between_says_when_it_cut_the_list() -> None:
    schedule = cron_schedule("*/10 * * * *", "UTC")
    fires, cut = fires_between(schedule, utc("2025-01-01T10:00"), utc("2025-01-01T12:00"), 3)
    assert fires == [utc("2025-01-01T10:00"), utc("2025-01-01T10:10"), utc("2025-01-01T10:20")]
    assert cut is True


def test_fires_between_does_not_cut_when_exactly_limit_fires_are_due() -> None:
    schedule = cron_schedule("0 * * * *", "UTC")
    fires, cut = fires_between(schedule, utc("2025-01-01T10:00"), utc("2025-01-01T12:00"), 3)
    assert len(fires) == 3
    assert cut is False


def test_fires_between_of_an_empty_window_is_empty() -> None:
    schedule = cron_schedule("0 0 * * *", "UTC")
    assert fires_between(schedule, utc("2025-01-01T01:00"), utc("2025-01-01T23:59"), 5) == (
        [],
        False,
    )


def test_fires_between_of_a_manual_schedule_is_empty() -> None:
    assert fires_between(Schedule(), ANCHOR, ANCHOR + timedelta(days=1), 5) == ([], False)


# --- Misfires ----------------------------------------------------------------------------

NOW = utc("2025-06-01T12:00:00")


def hours_ago(*hours: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours]


def test_skip_runs_the_on_time_fire_and_skips_the_missed_ones() -> None:
    due = [*hours_ago(3, 2, 1), NOW - timedelta(seconds=10)]
    decision = decide_misfires(due, now=NOW, grace_s=60, policy=MisfirePolicy.SKIP)
    assert decision.run == (NOW - timedelta(seconds=10),)
    assert decision.skip == tuple(hours_ago(3, 2, 1))


def test_skip_runs_nothing_when_every_fire_was_missed() -> None:
    decision = decide_misfires(hours_ago(3, 2), now=NOW, grace_s=60, policy=MisfirePolicy.SKIP)
    assert decision.run == ()
    assert decision.skip == tuple(hours_ago(3, 2))


def test_a_fire_exactly_grace_old_is_still_on_time() -> None:
    due = [NOW - timedelta(seconds=60)]
    decision = decide_misfires(due, now=NOW, grace_s=60, policy=MisfirePolicy.SKIP)
    assert decision.run == tuple(due)


def test_once_coalesces_missed_fires_into_one_run_of_the_latest() -> None:
    decision = decide_misfires(hours_ago(3, 2, 1), now=NOW, grace_s=60, policy=MisfirePolicy.ONCE)
    assert decision.run == tuple(hours_ago(1))
    assert decision.skip == tuple(hours_ago(3, 2))


def test_all_runs_every_missed_fire_when_there_are_few() -> None:
    due = hours_ago(3, 2, 1)
    decision = decide_misfires(due, now=NOW, grace_s=60, policy=MisfirePolicy.ALL)
    assert decision.run == tuple(due)
    assert decision.skip == ()


def test_all_runs_only_the_latest_fires_up_to_the_limit() -> None:
    due = hours_ago(*range(MISFIRE_ALL_LIMIT + 5, 0, -1))
    decision = decide_misfires(due, now=NOW, grace_s=60, policy=MisfirePolicy.ALL)
    assert decision.run == tuple(due[5:])
    assert len(decision.run) == MISFIRE_ALL_LIMIT
    assert decision.skip == tuple(due[:5])


@pytest.mark.parametrize("policy", list(MisfirePolicy))
def test_no_due_fires_means_nothing_to_run_or_skip(policy: MisfirePolicy) -> None:
    decision = decide_misfires([], now=NOW, grace_s=60, policy=policy)
    assert (decision.run, decision.skip) == ((), ())


@settings(max_examples=200, deadline=None)
@given(
    ages=st.lists(st.integers(0, 10**6), max_size=30, unique=True),
    grace_s=st.integers(0, 3600),
    policy=st.sampled_from(MisfirePolicy),
)
def test_every_due_fire_is_either_run_or_skipped_once(
    ages: list[int], grace_s: int, policy: MisfirePolicy
) -> None:
    due = sorted(NOW - timedelta(seconds=age) for age in ages)
    decision = decide_misfires(due, now=NOW, grace_s=grace_s, policy=policy)
    assert sorted(decision.run + decision.skip) == due
    assert not set(decision.run) & set(decision.skip)
    if policy is MisfirePolicy.SKIP:
        on_time = [fire for fire in due if NOW - fire <= timedelta(seconds=grace_s)]
        assert list(decision.run) == on_time
    elif policy is MisfirePolicy.ONCE:
        assert list(decision.run) == due[-1:]
    else:
        assert list(decision.run) == due[-MISFIRE_ALL_LIMIT:]


# --- Descriptions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "tz", "sentence"),
    [
        ("0 2 * * 1-5", "Europe/Berlin", "At 02:00 on Monday through Friday (Europe/Berlin)"),
        ("*/15 * * * *", "UTC", "Every 15th minute of every hour (UTC)"),
        ("@daily", "America/New_York", "At 00:00 every day (America/New_York)"),
        ("0 0 1 1 *", "Asia/Tokyo", "At 00:00 on January 1 (Asia/Tokyo)"),
    ],
)
def test_describe_reads_a_cron_schedule_aloud_with_its_zone(
    expr: str, tz: str, sentence: str
) -> None:
    assert describe(cron_schedule(expr, tz)) == sentence


@pytest.mark.parametrize(
    ("every_s", "sentence"),
    [(30, "Every 30s"), (900, "Every 15m"), (5400, "Every 1h30m"), (86400, "Every 1d")],
)
def test_describe_reads_an_interval_aloud(every_s: int, sentence: str) -> None:
    assert describe(interval_schedule(every_s, ANCHOR)) == sentence


def test_describe_says_a_manual_schedule_never_fires_by_itself() -> None:
    assert describe(Schedule()) == "Manual runs only"


# --- The machine's zone ------------------------------------------------------------------


def test_local_zone_name_follows_the_tz_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", ":Australia/Lord_Howe")
    assert local_zone_name() == "Australia/Lord_Howe"


def test_local_zone_name_is_always_a_zone_we_can_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Not/AZone")
    assert zone(local_zone_name()) is not None


def test_the_gap_after_an_instant_is_that_of_its_next_two_fires_remembered_or_not() -> None:
    """Weekdays at 02:30 in Berlin: Friday's to Monday's gap is three days, the others
    one, over a change of the clocks 23 hours; remembered or asked anew, the same."""
    schedule = cron_schedule("30 2 * * 1-5", "Europe/Berlin")
    start = datetime(2025, 3, 26, 12, 0, tzinfo=UTC)  # a Wednesday; clocks change Sunday
    for hours in range(0, 24 * 9, 5):
        at = start + timedelta(hours=hours)
        fires = next_fires(schedule, at, 2)
        assert gap_after(schedule, at) == fires[1] - fires[0], at
    assert gap_after(interval_schedule(600, start), start) == timedelta(minutes=10)
    assert gap_after(Schedule(kind=ScheduleKind.NONE, tz="UTC"), start) is None
