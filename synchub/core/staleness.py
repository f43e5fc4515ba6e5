"""When a scheduled job has gone too long without a success: the console's rule, and a
bound on it that depends on the schedule alone, which the database can index."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from synchub.core.schedules import MACROS, Schedule, ScheduleKind, gap_after, iter_fires, zone

#: The shortest time without a success that makes a scheduled job stale.
MIN_STALE = timedelta(hours=1)
#: How far ahead `least_stale_after` looks for a schedule that repeats yearly: every
#: month's gaps and each clock change's, once ...
_YEAR_AND_A_BIT = timedelta(days=400)
#: ... and for one that repeats weekly
_TWO_WEEKS = timedelta(days=15)
#: How many fires it walks at most, for a schedule that fires often.
_MOST_FIRES = 600
#: A clock change moves a fire by at most this much (Antarctica/Troll's is two hours).
_CLOCK_CHANGE = timedelta(hours=2)


def stale_after(schedule: Schedule, now: datetime) -> timedelta | None:
    """How long a job with `schedule` may go without a success before it is stale:
    two of its periods (the gap between its next two fires), at least MIN_STALE.
    None for a job without a schedule: nobody said how often it should succeed."""
    if schedule.kind is ScheduleKind.NONE:
        return None
    gap = gap_after(schedule, now)
    return None if gap is None else max(MIN_STALE, 2 * gap)


def stale_for(schedule: Schedule, since: datetime, now: datetime) -> float | None:
    """Seconds from `since` (the last success, or the job's creation) to `now`, when
    longer than `stale_after` allows; else None."""
    gone = now - since
    if gone <= MIN_STALE:  # the common case, without computing fire times
        return None
    limit = stale_after(schedule, now)
    if limit is None:
        return None
    return gone.total_seconds() if gone > limit else None


def stale_after_bounds(schedule: Schedule, now: datetime) -> tuple[timedelta, timedelta] | None:
    """The least and the most that `stale_after` can be from `now` on: two of the
    shortest and of the longest gap between the schedule's fires (at least
    MIN_STALE); None when it never fires twice. A job that succeeded less than the
    least ago is not stale, one that did not for more than the most is: only those
    between need the exact rule, which depends on the moment asked.

    A cron expression that names days of the month or months repeats yearly: the
    fires of the next 400 days are walked. Any other repeats weekly: two weeks are
    walked, and as a clock change may shorten or stretch a gap, that much is taken
    off the shortest and added to the longest."""
    if schedule.kind is ScheduleKind.NONE:
        return None
    if schedule.kind is ScheduleKind.INTERVAL:
        assert schedule.every_s is not None
        exact = max(MIN_STALE, 2 * timedelta(seconds=schedule.every_s))
        return exact, exact
    assert schedule.cron is not None
    fields = " ".join(schedule.cron.split())
    day, month = MACROS.get(fields.lower(), fields).split(" ")[2:4]
    yearly = day != "*" or month != "*"
    gaps = _gaps_ahead(schedule, now, _YEAR_AND_A_BIT if yearly else _TWO_WEEKS)
    if not gaps:
        return None
    shortest, longest = min(gaps), max(gaps)
    if not (yearly and len(gaps) < _MOST_FIRES) and _changes_clock(zone(schedule.tz), now):
        shortest, longest = shortest - _CLOCK_CHANGE, longest + _CLOCK_CHANGE
    return max(MIN_STALE, 2 * shortest), max(MIN_STALE, 2 * longest)


def _gaps_ahead(schedule: Schedule, now: datetime, ahead: timedelta) -> list[timedelta]:
    """The gaps between the schedule's fires over `ahead` from `now` (at least two
    gaps, at most _MOST_FIRES)."""
    gaps: list[timedelta] = []
    previous: datetime | None = None
    for fire in iter_fires(schedule, now):
        if previous is not None:
            gaps.append(fire - previous)
            if (fire - now > ahead and len(gaps) >= 2) or len(gaps) >= _MOST_FIRES:
                break
        previous = fire
    return gaps


def _changes_clock(tz: ZoneInfo, now: datetime) -> bool:
    """Whether `tz` has more than one UTC offset in the year and a bit after `now`."""
    offsets = {(now + timedelta(days=d)).astimezone(tz).utcoffset() for d in range(0, 401, 10)}
    return len(offsets) > 1
