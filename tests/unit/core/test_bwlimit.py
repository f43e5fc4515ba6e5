"""rclone's --bwlimit timetables: what each slot means, and the reason a bad one is refused."""

from __future__ import annotations

import pytest

from synchub.core.bwlimit import Slot, parse_bwlimit, rates
from synchub.core.errors import InvalidOption


def test_a_plain_rate_is_one_slot_for_the_whole_week() -> None:
    assert parse_bwlimit("10M:1M") == (Slot(None, 0, "10M:1M"),)


def test_a_timetable_gives_each_slot_its_day_minute_and_rate() -> None:
    slots = parse_bwlimit("08:00,512k Mon-12:30,10M;sunday-23:00,off")
    assert slots == (
        Slot(None, 8 * 60, "512k"),
        Slot(0, 12 * 60 + 30, "10M"),
        Slot(6, 23 * 60, "off"),
    )
    assert rates(slots) == ["512k", "10M", "off"]


def test_up_and_down_rates_are_both_checked() -> None:
    assert rates(parse_bwlimit("08:00,1M:off")) == ["1M", "off"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "expected a rate (10M)"),
        ("   ", "expected a rate (10M)"),
        ("25:00,1M", "the hour in '25:00' must be 00 to 23"),
        ("08:60,1M", "the minute in '08:60' must be 00 to 59"),
        ("8:00,1M", "the time '8:00' is not HH:MM"),
        ("+8:00,1M", "the time '+8:00' is not HH:MM"),
        ("Xyz-08:00,1M", "unknown weekday 'Xyz'"),
        ("Mon-Tue-08:00,1M", "the time 'Tue-08:00' is not HH:MM"),
        ("08:00,1M,2M", "the slot '08:00,1M,2M' is not [DAY-]HH:MM,RATE"),
        ("08:00,", "the slot '08:00,' is not [DAY-]HH:MM,RATE"),
        ("08:00,bogus", "'bogus' is not a rate"),
        ("08:00,-1", "'-1' is not a rate"),
        ("10M:1M:2M", "more than one ':'"),
        ("10M:", "'' in '10M:' is not a rate"),
        ("08:00", "a timetable slot needs a rate, e.g. '08:00,10M'"),
        ("08:00,1M\t12:00,off", "no tabs or newlines"),
        (" 10M", "remove the spaces around it"),
    ],
)
def test_a_bad_value_is_refused_with_its_reason(value: str, says: str) -> None:
    with pytest.raises(InvalidOption) as caught:
        parse_bwlimit(value, "--bwlimit")
    assert str(caught.value).startswith(f"Bad value {value!r} for --bwlimit: ")
    assert says in str(caught.value)
