"""Run windows: the hours of the week a job may run, in the job's zone.

A window is written `[DAYS ]HH:MM-HH:MM`: `22:00-06:00` every day, `Mon-Fri
22:00-06:00`, `Sat,Sun 00:00-24:00`. DAYS name the day a window *opens*: `Fri
22:00-06:00` runs from Friday 22:00 to Saturday 06:00. An end at or before the
start crosses midnight; `24:00` is the end of the day.

Wall-clock times across a DST change: a window opening in the hour that does
not exist opens when the clocks have gone forward (02:30 becomes 03:30); in the
hour that happens twice, a window opens at the first 01:30 and closes at the
second, so it is never shorter than its wall-clock hours say.

Pure: no clock, no I/O. Times given are aware datetimes; times returned are in UTC.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from synchub.core.errors import InvalidSchedule

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EVERY_DAY = frozenset(range(7))
_WINDOW = re.compile(r"(?:(?P<days>[A-Za-z,-]+)\s+)?(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})")
#: A week and a day: every weekly window has opened within it.
_LOOK = 8


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  #: the weekdays it opens on, 0 = Monday
    start: int  #: minutes after midnight it opens
    end: int  #: minutes after midnight it closes; at or before `start`: the next day
    text: str  #: as written, normalised

    def __str__(self) -> str:
        return self.text


def _bad(text: str, why: str) -> InvalidSchedule:
    return InvalidSchedule(f"Bad window {text!r}: {why}", field="windows")


def _minutes(text: str, spec: str, *, end: bool) -> int:
    hour, minute = int(spec[:2]), int(spec[3:])
    if end and (hour, minute) == (24, 0):
        return 24 * 60
    if hour > 23 or minute > 59:
        limit = "00:00 to 24:00" if end else "00:00 to 23:59"
        raise _bad(text, f"{spec!r} is not a time of day ({limit})")
    return hour * 60 + minute


def _day(text: str, name: str) -> int:
    lowered = name.lower()[:3]
    if lowered not in DAYS or name.lower() not in (lowered, _FULL[DAYS.index(lowered)]):
        raise _bad(text, f"unknown weekday {name!r} (use Mon, Tue, … Sun)")
    return DAYS.index(lowered)


def _days(text: str, spec: str | None) -> frozenset[int]:
    if spec is None:
        return EVERY_DAY
    days: set[int] = set()
    for part in spec.split(","):
        first, dash, last = part.partition("-")
        if not first or (dash and not last):
            raise _bad(text, f"{spec!r} is not a list of days such as Mon-Fri or Sat,Sun")
        a = _day(text, first)
        b = _day(text, last) if dash else a
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))  # Fri-Mon wraps
    return frozenset(days)


def parse_window(text: str) -> Window:
    """A window from `[DAYS ]HH:MM-HH:MM`; InvalidSchedule naming what is wrong."""
    match = _WINDOW.fullmatch(text.strip())
    if match is None:
        raise _bad(text, "write [DAYS ]HH:MM-HH:MM, e.g. 22:00-06:00 or Mon-Fri 22:00-06:00")
    days = _days(text, match["days"])
    start = _minutes(text, match["start"], end=False)
    end = _minutes(text, match["end"], end=True)
    if end == start:
        raise _bad(text, "it opens and closes at the same time (for all day, give no window)")
    prefix = "" if days == EVERY_DAY else f"{match['days']} "
    return Window(days, start, end, f"{prefix}{match['start']}-{match['end']}")


def parse_windows(texts: Iterable[str]) -> tuple[Window, ...]:
    """Each text parsed; the same window twice is kept once."""
    out: dict[str, Window] = {}
    for text in texts:
        window = parse_window(text)
        out.setdefault(window.text, window)
    return tuple(out.values())


def _wall(day: date, minutes: int, tz: ZoneInfo, *, fold: int) -> datetime:
    """The aware instant of a wall-clock time; `minutes` may pass midnight."""
    day += timedelta(days=minutes // (24 * 60))
    minutes %= 24 * 60
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tz).replace(fold=fold)
    # A time in the gap of a spring change: fold=0 reads it with the old offset,
    # which lands after the change (02:30 -> 03:30). In UTC, because Python compares
    # and subtracts two times of one zone by their wall clocks, ignoring DST.
    return local.astimezone(UTC)


def _spans(
    windows: tuple[Window, ...], tz: ZoneInfo, around: datetime
) -> list[tuple[datetime, datetime]]:
    """Every opening from a week and a day before `around` to as long after, merged
    where they touch or overlap, in order."""
    today = around.astimezone(tz).date()
    spans: list[tuple[datetime, datetime]] = []
    for offset in range(-_LOOK, _LOOK + 1):
        day = today + timedelta(days=offset)
        for w in windows:
            if day.weekday() in w.days:
                close = w.end if w.end > w.start else w.end + 24 * 60
                spans.append((_wall(day, w.start, tz, fold=0), _wall(day, close, tz, fold=1)))
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def closes_at(windows: tuple[Window, ...], tz: ZoneInfo, at: datetime) -> datetime | None:
    """When the window open at `at` closes; None when every window is shut then
    (or there are none: see `is_open`)."""
    at = at.astimezone(UTC)
    for start, end in _spans(windows, tz, at):
        if start <= at < end:
            return end
    return None


def is_open(windows: tuple[Window, ...], tz: ZoneInfo, at: datetime) -> bool:
    """A job without windows may always run."""
    return not windows or closes_at(windows, tz, at) is not None


def next_open(windows: tuple[Window, ...], tz: ZoneInfo, at: datetime) -> datetime:
    """`at` when a window is open then (or there are none), else when the next opens."""
    if is_open(windows, tz, at):
        return at
    at = at.astimezone(UTC)
    return min(start for start, _ in _spans(windows, tz, at) if start > at)


def seconds_left(windows: tuple[Window, ...], tz: ZoneInfo, at: datetime) -> int | None:
    """Whole seconds until the window open at `at` closes (rounded down, at least 1);
    None without windows or when none is open."""
    end = closes_at(windows, tz, at) if windows else None
    if end is None:
        return None
    return max(1, int((end - at.astimezone(UTC)).total_seconds()))


# -- a job's windows, as the scheduler and the runner use them -----------------------

#: Runs these triggers make were asked for by a person or a client: they start at once
#: and are not stopped when a window closes. Every other run keeps to the windows.
ASKED_FOR = frozenset({"manual", "api"})
#: A run handed over this much before its window opens (another machine's clock, a
#: scheduler pass a moment early) starts as if the window were open.
START_SLACK_S = 60


@functools.lru_cache(maxsize=256)
def _parsed(texts: tuple[str, ...]) -> tuple[Window, ...]:
    return parse_windows(texts)


def keeps_to(texts: Sequence[str] | None, trigger: str) -> bool:
    """Whether a run of `trigger` of a job with windows `texts` keeps to them."""
    return bool(texts) and trigger not in ASKED_FOR


def start_at(texts: Sequence[str], tz: str, at: datetime) -> datetime:
    """When a run due at `at` may start: `at` while a window is open, else when the
    next one opens. Stored windows only (they were checked when saved)."""
    return next_open(_parsed(tuple(texts)), ZoneInfo(tz), at)


def seconds_to_close(texts: Sequence[str], tz: str, at: datetime) -> int | None:
    """Whole seconds a run starting at `at` has before its window closes; None when
    every window is shut then and none opens within START_SLACK_S."""
    windows, zone = _parsed(tuple(texts)), ZoneInfo(tz)
    opens = next_open(windows, zone, at)
    if (opens - at).total_seconds() > START_SLACK_S:
        return None
    end = closes_at(windows, zone, opens)
    assert end is not None
    return max(1, int((end - at.astimezone(UTC)).total_seconds()))


def opened_at(texts: Sequence[str], tz: str, at: datetime) -> datetime | None:
    """When the window open at `at` opened; None when every window is shut then."""
    at = at.astimezone(UTC)
    for start, end in _spans(_parsed(tuple(texts)), ZoneInfo(tz), at):
        if start <= at < end:
            return start
    return None


def run_starts(texts: Sequence[str], tz: str, fires: Sequence[datetime]) -> list[datetime | None]:
    """When the run of each of `fires` (in order) may start by the windows, as the
    scheduler gates them: the fire time while a window is open, else the next opening;
    None when an earlier fire time's run already waits for that opening (one run per
    opening: it is recorded as skipped)."""
    waiting: set[datetime] = set()
    starts: list[datetime | None] = []
    for at in fires:
        opens = start_at(texts, tz, at)
        starts.append(None if opens in waiting else opens)
        if opens > at:
            waiting.add(opens)
    return starts
