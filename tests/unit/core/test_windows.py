"""Run windows: parsing with a reason for each bad one, and when a window is open,
closes and next opens, across midnight, weekdays and both DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from synchub.core.errors import InvalidSchedule
from synchub.core.windows import (
    closes_at,
    is_open,
    keeps_to,
    next_open,
    opened_at,
    parse_window,
    parse_windows,
    run_starts,
    seconds_left,
    seconds_to_close,
    start_at,
)

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    """A Berlin wall-clock time, e.g. '2026-12-07 23:00' (a Monday)."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def test_a_window_keeps_its_days_and_minutes() -> None:
    window = parse_window("Mon-Fri 22:00-06:00")
    assert (window.days, window.start, window.end) == (frozenset(range(5)), 22 * 60, 6 * 60)
    assert str(window) == "Mon-Fri 22:00-06:00"
    assert parse_window("Fri-Mon 08:00-09:00").days == frozenset({4, 5, 6, 0})
    assert parse_window("sat,Sunday 00:00-24:00").days == frozenset({5, 6})
    assert len(parse_windows(["22:00-06:00", " 22:00-06:00 "])) == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("25:00-26:00", "'25:00' is not a time of day (00:00 to 23:59)"),
        ("22:00-24:30", "'24:30' is not a time of day (00:00 to 24:00)"),
        ("22:60-06:00", "'22:60' is not a time of day"),
        ("22:00-22:00", "opens and closes at the same time"),
        ("22-06", "write [DAYS ]HH:MM-HH:MM"),
        ("Mon-Fry 22:00-06:00", "unknown weekday 'Fry'"),
        ("Mon- 22:00-06:00", "is not a list of days"),
    ],
)
def test_a_bad_window_is_refused_naming_it(text: str, says: str) -> None:
    with pytest.raises(InvalidSchedule) as caught:
        parse_window(text)
    assert str(caught.value).startswith(f"Bad window {text!r}: ")
    assert says in str(caught.value)
    assert caught.value.field == "windows"


NIGHTS = parse_windows(["Mon-Fri 22:00-06:00"])


def test_an_overnight_window_closes_the_next_morning() -> None:
    assert closes_at(NIGHTS, BERLIN, at("2026-12-07 23:00")) == at("2026-12-08 06:00")
    assert seconds_left(NIGHTS, BERLIN, at("2026-12-08 05:59:30")) == 30
    assert not is_open(NIGHTS, BERLIN, at("2026-12-08 06:00"))


def test_a_closed_window_names_when_the_next_opens() -> None:
    assert next_open(NIGHTS, BERLIN, at("2026-12-08 12:00")) == at("2026-12-08 22:00")
    # Friday night's window runs into Saturday; none opens on Saturday or Sunday.
    assert is_open(NIGHTS, BERLIN, at("2026-12-12 05:00"))
    assert next_open(NIGHTS, BERLIN, at("2026-12-12 07:00")) == at("2026-12-14 22:00")
    assert next_open(NIGHTS, BERLIN, at("2026-12-08 23:00")) == at("2026-12-08 23:00")


def test_no_windows_means_always_open() -> None:
    now = datetime(2026, 12, 8, 12, tzinfo=UTC)
    assert is_open((), BERLIN, now) and next_open((), BERLIN, now) == now
    assert seconds_left((), BERLIN, now) is None


def test_windows_that_touch_are_one_stretch() -> None:
    both = parse_windows(["20:00-24:00", "00:00-02:00"])
    assert closes_at(both, BERLIN, at("2026-12-07 21:00")) == at("2026-12-08 02:00")


def test_times_are_read_in_the_zone_given() -> None:
    # 22:00 in Berlin (winter, UTC+1) is 21:00 UTC.
    assert next_open(NIGHTS, BERLIN, datetime(2026, 12, 8, 12, tzinfo=UTC)) == datetime(
        2026, 12, 8, 21, tzinfo=UTC
    )


def test_a_window_opening_in_the_spring_gap_opens_when_the_clocks_have_gone_forward() -> None:
    # Sunday 29 March 2026: Berlin goes from 02:00 CET straight to 03:00 CEST.
    window = parse_windows(["02:30-05:00"])
    opens = next_open(window, BERLIN, datetime(2026, 3, 29, 0, 0, tzinfo=UTC))
    assert opens == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert closes_at(window, BERLIN, opens) == datetime(2026, 3, 29, 3, 0, tzinfo=UTC)
    # The night before the change is the usual two and a half hours.
    assert seconds_left(window, BERLIN, at("2026-03-28 02:30")) == int(2.5 * 3600)


def test_a_window_in_the_repeated_autumn_hour_spans_both() -> None:
    # Sunday 25 October 2026: Berlin's 02:00-03:00 happens twice (CEST, then CET).
    window = parse_windows(["02:15-02:45"])
    opens = next_open(window, BERLIN, datetime(2026, 10, 24, 22, 0, tzinfo=UTC))
    assert opens == datetime(2026, 10, 25, 0, 15, tzinfo=UTC)  # the first 02:15 (CEST)
    closes = closes_at(window, BERLIN, opens)
    assert closes == datetime(2026, 10, 25, 1, 45, tzinfo=UTC)  # the second 02:45 (CET)


def test_an_overnight_window_over_the_autumn_change_is_an_hour_longer() -> None:
    window = parse_windows(["22:00-06:00"])
    assert seconds_left(window, BERLIN, at("2026-10-24 22:00")) == 9 * 3600
    assert seconds_left(window, BERLIN, at("2026-03-28 22:00")) == 7 * 3600


# -- as the scheduler and the runner use a job's stored windows ----------------------


def test_runs_asked_for_do_not_keep_to_the_windows() -> None:
    assert keeps_to(["22:00-06:00"], "schedule")
    assert keeps_to(["22:00-06:00"], "retry") and keeps_to(["22:00-06:00"], "chain")
    assert not keeps_to(["22:00-06:00"], "manual") and not keeps_to(["22:00-06:00"], "api")
    assert not keeps_to([], "schedule")


def test_a_run_due_while_shut_starts_when_the_window_opens() -> None:
    nights = ["Mon-Fri 22:00-06:00"]
    assert start_at(nights, "Europe/Berlin", at("2026-12-08 12:00")) == at("2026-12-08 22:00")
    assert start_at(nights, "Europe/Berlin", at("2026-12-08 23:00")) == at("2026-12-08 23:00")


def test_a_run_starting_has_the_time_to_its_windows_close() -> None:
    nights = ["Mon-Fri 22:00-06:00"]
    assert seconds_to_close(nights, "Europe/Berlin", at("2026-12-08 05:00")) == 3600
    # Shut: none opens soon.
    assert seconds_to_close(nights, "Europe/Berlin", at("2026-12-08 06:00")) is None
    # A moment early (another machine's clock): counted from the window's opening.
    early = at("2026-12-08 21:59:30")
    assert seconds_to_close(nights, "Europe/Berlin", early) == 8 * 3600 + 30
    assert seconds_to_close(nights, "Europe/Berlin", at("2026-12-08 21:58:59")) is None


def test_an_open_window_says_when_it_opened() -> None:
    nights = ["Mon-Fri 22:00-06:00"]
    assert opened_at(nights, "Europe/Berlin", at("2026-12-08 05:00")) == at("2026-12-07 22:00")
    assert opened_at(nights, "Europe/Berlin", at("2026-12-08 12:00")) is None


def test_each_fire_says_when_its_run_starts_one_run_per_opening() -> None:
    # 2026-12-06 is a Sunday: a weekday night window next opens on Monday evening.
    fires = [at("2026-12-06 19:00"), at("2026-12-07 21:00"), at("2026-12-07 22:00"),
             at("2026-12-07 23:00"), at("2026-12-08 12:00")]  # fmt: skip
    assert run_starts(["Mon-Fri 22:00-06:00"], "Europe/Berlin", fires) == [
        at("2026-12-07 22:00"),  # waits for Monday's opening
        None,  # a run waits for that opening already: skipped
        None,  # the fire at the opening itself: the waiting run does it
        at("2026-12-07 23:00"),  # within the open window: on time
        at("2026-12-08 22:00"),
    ]
