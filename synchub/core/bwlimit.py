"""rclone's `--bwlimit` value: one rate, `UP:DOWN`, or a timetable of slots.

The rules follow rclone's fs/bwtimetable.go, checked against the binary (see
tests/integration/engines/test_bwlimit_agreement.py): whatever is accepted here
rclone accepts too. A few spellings rclone lets through by accident are refused
for a clearer message: `+8:00` or `08x00` as a time, a table with no slot, and a
lone `08:00` (rclone reads it as 8 KiB/s up, 0 down; it is surely a slot without
its rate).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from synchub.core.errors import InvalidOption

#: rclone's weekday names, Monday first; the short and the full spelling, any case.
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBER = r"(\d+(\.\d*)?|\.\d+)"
_SIZE = re.compile(rf"{_NUMBER}(b|[kmgtpe](i|ib)?)?|off", re.IGNORECASE)
_TIME = re.compile(r"(\d{2}):(\d{2})")
_LONE_TIME = re.compile(r"\d{2}:\d{2}")
EXPECTED = "a rate (10M), UP:DOWN (10M:1M), or a timetable like '08:00,512k 18:00,off'"


@dataclass(frozen=True)
class Slot:
    """From `minute` after midnight (on `day`, 0 = Monday; every day when None),
    the rate is `rate`."""

    day: int | None
    minute: int
    rate: str


def _bad(what: str, value: str, why: str) -> InvalidOption:
    return InvalidOption(f"Bad value {value!r} for {what}: {why}")


def _rate(what: str, value: str, rate: str) -> str:
    parts = rate.split(":")
    if len(parts) > 2:
        raise _bad(what, value, f"the rate {rate!r} has more than one ':' (write UP:DOWN)")
    for part in parts:
        if not _SIZE.fullmatch(part):
            where = "" if part == rate else f" in {rate!r}"
            raise _bad(what, value, f"{part!r}{where} is not a rate such as 512k, 10M or off")
    return rate


def _day(what: str, value: str, name: str) -> int:
    lowered = name.lower()
    for names in (DAYS, _FULL):
        if lowered in names:
            return names.index(lowered)
    raise _bad(what, value, f"unknown weekday {name!r} (use Mon, Tue, … Sun)")


def _minute(what: str, value: str, text: str) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        raise _bad(what, value, f"the time {text!r} is not HH:MM")
    hour, minute = int(match[1]), int(match[2])
    if hour > 23:
        raise _bad(what, value, f"the hour in {text!r} must be 00 to 23")
    if minute > 59:
        raise _bad(what, value, f"the minute in {text!r} must be 00 to 59")
    return hour * 60 + minute


def _slot(what: str, value: str, token: str) -> Slot:
    when, comma, rate = token.partition(",")
    if not comma or "," in rate or not rate:
        raise _bad(what, value, f"the slot {token!r} is not [DAY-]HH:MM,RATE")
    day: int | None = None
    if "-" in when:
        name, _, when = when.partition("-")
        day = _day(what, value, name)
    return Slot(day, _minute(what, value, when), _rate(what, value, rate))


def parse_bwlimit(value: str, what: str = "--bwlimit") -> tuple[Slot, ...]:
    """The slots of a `--bwlimit` value (one slot, every day from 00:00, for a plain
    rate). InvalidOption naming the part at fault, worded for `what`."""
    if not value.strip():
        raise _bad(what, value, f"expected {EXPECTED}")
    if any(c.isspace() and c != " " for c in value):
        raise _bad(what, value, "separate the slots with spaces or ';' (no tabs or newlines)")
    if " " not in value and "," not in value:
        # rclone reads it as one rate, or UP:DOWN
        if _LONE_TIME.fullmatch(value):
            raise _bad(what, value, f"a timetable slot needs a rate, e.g. '{value},10M'")
        return (Slot(None, 0, _rate(what, value, value)),)
    if value != value.strip():
        # rclone's single-rate test sees the space, then finds no comma in the slot
        raise _bad(what, value, "remove the spaces around it")
    tokens = [t for t in re.split(r"[ ;]", value) if t]
    return tuple(_slot(what, value, t) for t in tokens)


def rates(slots: tuple[Slot, ...]) -> list[str]:
    """Every rate of every slot, UP:DOWN split in two (for a bound check)."""
    return [part for slot in slots for part in slot.rate.split(":")]
