"""When runs happen: cron with a time zone, a fixed interval, or never.

Cron follows Debian cron (through cronsim): day-of-month OR day-of-week when both
are restricted, and on DST changes a fixed-time fire inside a spring-forward gap
fires right after the gap, one inside a fall-back overlap fires once, and
expressions that fire every hour or more often follow real elapsed time.
All datetimes in and out are aware; results are in UTC.

Debian cron (cron.c, `find_jobs`) tells the two kinds apart by the minute and hour
fields: when either starts with `*` the job is a "wildcard" job and runs whenever
the wall clock shows a matching minute, otherwise it is a "fixed-time" job and runs
once per matching wall-clock time.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from synchub.core.durations import format_duration
from synchub.core.errors import InvalidSchedule

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class ScheduleKind(StrEnum):
    NONE = "none"  #: manual runs only
    CRON = "cron"  #: a cron expression in a time zone
    INTERVAL = "interval"  #: every N seconds from an anchor


class MisfirePolicy(StrEnum):
    SKIP = "skip"  #: record every missed fire as skipped
    ONCE = "once"  #: coalesce missed fires into one run
    ALL = "all"  #: run every missed fire, at most MISFIRE_ALL_LIMIT


MISFIRE_ALL_LIMIT = 10


@dataclass(frozen=True)
class Schedule:
    kind: ScheduleKind = ScheduleKind.NONE
    cron: str | None = None  #: the expression as the user wrote it
    tz: str = "UTC"  #: IANA zone the cron expression is read in
    every_s: int | None = None  #: interval length in seconds
    anchor: datetime | None = None  #: interval fires at anchor + k * every_s

    def __post_init__(self) -> None:
        if self.kind is ScheduleKind.CRON and not self.cron:
            raise InvalidSchedule("A cron schedule needs an expression")
        if self.kind is ScheduleKind.INTERVAL and (
            self.every_s is None or self.every_s < 1 or self.anchor is None
        ):
            raise InvalidSchedule("An interval schedule needs a length of at least 1s")


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or InvalidSchedule."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidSchedule(
            f"Unknown time zone {name!r}: use an IANA name such as Europe/Berlin"
        ) from None


def local_zone_name() -> str:
    """This machine's IANA zone name, UTC when it cannot be told."""
    import os
    from pathlib import Path

    if tz := os.environ.get("TZ", "").lstrip(":"):
        try:
            ZoneInfo(tz)
            return tz
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


def _expand(expr: str) -> str:
    text = " ".join(expr.split())
    return MACROS.get(text.lower(), text)


#: Where validation and explain() start cronsim; any instant would do.
_VALIDATE_FROM = datetime(2000, 1, 1, tzinfo=UTC)


def _is_fixed_time(text: str) -> bool:
    """Debian cron's test: neither the minute nor the hour field starts with `*`."""
    minute, hour = text.split(" ")[:2]
    return not minute.startswith("*") and not hour.startswith("*")


def _cronsim_problem(text: str, exc: CronSimError) -> str:
    """cronsim's message ("Bad minute") with the field's text, or why it never fires."""
    message = str(exc)
    names = ["minute", "hour", "day-of-month", "month", "day-of-week"]
    fields = text.split(" ")
    for index, name in enumerate(names):
        if message == f"Bad {name}":
            if name == "day-of-month":
                # cronsim refuses a day-of-month that none of the allowed months has
                # (`0 0 30 2 *`) with the same message as a malformed one; tell them apart.
                with_any_month = " ".join([*fields[:3], "*", fields[4]])
                try:
                    CronSim(with_any_month, _VALIDATE_FROM)
                except CronSimError:
                    pass
                else:
                    return f"it can never fire: no month in {fields[3]!r} has day {fields[2]!r}"
            return f"bad {name} {fields[index]!r}"
    return message


def cron_schedule(expr: str, tz: str) -> Schedule:
    """A validated cron Schedule; InvalidSchedule says what is wrong and where."""
    zone(tz)
    text = _expand(expr)
    if not text:
        raise InvalidSchedule("Bad cron expression: it is empty")
    if text.startswith("@"):
        raise InvalidSchedule(
            f"Bad cron expression {expr!r}: unknown macro, use one of {', '.join(MACROS)}"
        )
    fields = text.split(" ")
    if len(fields) != 5:
        raise InvalidSchedule(
            f"Bad cron expression {expr!r}: expected 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    try:
        it = CronSim(text, _VALIDATE_FROM)
    except CronSimError as exc:
        raise InvalidSchedule(
            f"Bad cron expression {expr!r}: {_cronsim_problem(text, exc)}"
        ) from None
    try:
        next(it)
    except (StopIteration, CronSimError):
        raise InvalidSchedule(f"Bad cron expression {expr!r}: it can never fire") from None
    return Schedule(kind=ScheduleKind.CRON, cron=expr.strip(), tz=tz)


def interval_schedule(every_s: int, anchor: datetime) -> Schedule:
    """A Schedule firing at anchor + k * every_s; InvalidSchedule when it cannot."""
    if every_s < 1:
        raise InvalidSchedule("Bad interval: it must be at least 1s")
    if anchor.utcoffset() is None:
        raise InvalidSchedule("Bad interval anchor: it needs a time zone")
    return Schedule(kind=ScheduleKind.INTERVAL, every_s=every_s, anchor=anchor.astimezone(UTC))


#: The smallest step of a datetime: turns an exclusive bound into an inclusive one.
_TINY = timedelta(microseconds=1)
#: How far apart _next_offset_change probes; no zone changes its offset and back
#: again within this time.
_PROBE = timedelta(hours=6)


def _offset(tz: ZoneInfo, at: datetime) -> timedelta:
    offset = at.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def _next_offset_change(
    tz: ZoneInfo, after: datetime, until: datetime, offset: timedelta
) -> datetime | None:
    """The first instant in (after, until] whose UTC offset is not `offset`, or None."""
    lo = after
    while lo < until:
        hi = min(lo + _PROBE, until)
        if _offset(tz, hi) != offset:
            while hi - lo > _TINY:
                mid = lo + (hi - lo) // 2
                if _offset(tz, mid) == offset:
                    lo = mid
                else:
                    hi = mid
            return hi
        lo = hi
    return None


def _fixed_time_fires(text: str, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Fires of a fixed-time expression: once per matching wall-clock time.

    cronsim does Debian's DST handling for these itself: it walks naive wall-clock
    time, moves a time in a spring-forward gap to the end of the gap, and picks the
    first of two ambiguous times (fold=0), so the repeated hour does not fire again.
    """
    # cronsim truncates `after` to the second and steps one second before looking;
    # the filter drops the first pass's fires that a `after` in the second pass of a
    # fall-back overlap reads as still to come.
    for fire in CronSim(text, after.astimezone(tz)):
        fire_utc = fire.astimezone(UTC)
        if fire_utc > after:
            yield fire_utc


def _wall_clock_fires(text: str, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Fires of a wildcard expression: each instant the wall clock shows a matching minute.

    This follows real elapsed time, as Debian cron runs wildcard jobs "based on the new
    time immediately". cronsim's own walk through an aware datetime is wrong when an
    offset changes by other than whole hours, or at other than a whole hour: it jumps
    ahead in real time by whole hours or by the minutes it expects to the next matching
    minute, and so steps over matching wall-clock minutes (Australia/Lord_Howe's 30-minute
    shift, Pacific/Chatham's change at 03:45). So the offset is held fixed between its
    changes and cronsim walks naive wall-clock time within each such stretch.
    """
    lo = after
    while True:
        offset = _offset(tz, lo + _TINY)
        for wall in CronSim(text, (lo + offset).replace(tzinfo=None)):
            fire = (wall - offset).replace(tzinfo=UTC)
            change = _next_offset_change(tz, lo, fire, offset)
            if change is not None:
                # Start again, with the new offset, at the instant it takes effect.
                lo = change - _TINY
                break
            yield fire
            lo = fire
        else:
            return


def iter_fires(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after `after` (aware), in order, in UTC."""
    if after.utcoffset() is None:
        raise ValueError("after must be an aware datetime")
    after = after.astimezone(UTC)
    if schedule.kind is ScheduleKind.CRON:
        assert schedule.cron is not None
        tz = zone(schedule.tz)
        text = _expand(schedule.cron)
        if _is_fixed_time(text):
            yield from _fixed_time_fires(text, tz, after)
        else:
            yield from _wall_clock_fires(text, tz, after)
    elif schedule.kind is ScheduleKind.INTERVAL:
        assert schedule.every_s is not None
        assert schedule.anchor is not None
        step = timedelta(seconds=schedule.every_s)
        # timedelta // timedelta is exact integer arithmetic, so no float rounding can
        # skip a fire or drift the sequence away from the anchor.
        k = max(0, (after - schedule.anchor) // step + 1)
        fire = schedule.anchor.astimezone(UTC) + k * step
        while True:
            yield fire
            fire += step


def next_fire(schedule: Schedule, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`, or None for a manual-only schedule."""
    return next(iter_fires(schedule, after), None)


def next_fires(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    """The next `count` fire times strictly after `after`."""
    return list(islice(iter_fires(schedule, after), count))


#: Schedules whose next gap `gap_after` remembers at most; all are forgotten past it.
_GAPS_KEPT = 100_000
_gaps: dict[Schedule, tuple[datetime, datetime, timedelta | None]] = {}


def gap_after(schedule: Schedule, after: datetime) -> timedelta | None:
    """The time between the next two fires strictly after `after` (None when fewer
    than two follow). Remembered per schedule until the first of them: until then
    the answer is the same, and a page over thousands of jobs asks again and again."""
    kept = _gaps.get(schedule)
    if kept is not None and kept[0] <= after < kept[1]:
        return kept[2]
    fires = next_fires(schedule, after, 2)
    gap = fires[1] - fires[0] if len(fires) == 2 else None
    if fires:
        if len(_gaps) >= _GAPS_KEPT:
            _gaps.clear()
        _gaps[schedule] = (after, fires[0], gap)
    return gap


def fires_between(
    schedule: Schedule, start: datetime, end: datetime, limit: int
) -> tuple[list[datetime], bool]:
    """Fire times in [start, end], at most `limit`; the flag says the list was cut."""
    out: list[datetime] = []
    for fire in iter_fires(schedule, start - _TINY):
        if fire > end:
            return out, False
        if len(out) == limit:
            return out, True
        out.append(fire)
    return out, False


@functools.lru_cache(maxsize=4096)
def _explain(cron: str) -> str:
    """cronsim's sentence for `cron`: a page of jobs asks for the same few often."""
    return str(CronSim(_expand(cron), _VALIDATE_FROM).explain())


def in_own_zone(schedule: Schedule, at: datetime) -> datetime:
    """`at` (the same instant) as the schedule tells its time: a cron schedule in its
    zone, where its expression is read; an interval in UTC, as it counts elapsed time
    in no zone at all."""
    if schedule.kind is ScheduleKind.CRON:
        return at.astimezone(zone(schedule.tz))
    return at.astimezone(UTC)


def describe(schedule: Schedule) -> str:
    """A sentence a person reads, e.g. 'At 02:00 on Monday through Friday (Europe/Berlin)'."""
    if schedule.kind is ScheduleKind.CRON:
        assert schedule.cron is not None
        return f"{_explain(schedule.cron)} ({schedule.tz})"
    if schedule.kind is ScheduleKind.INTERVAL:
        assert schedule.every_s is not None
        return f"Every {format_duration(schedule.every_s)}"
    return "Manual runs only"


@dataclass(frozen=True)
class MisfireDecision:
    run: tuple[datetime, ...]  #: fire times that get a run
    skip: tuple[datetime, ...]  #: fire times recorded as skipped (missed)


def decide_misfires(
    due: list[datetime], *, now: datetime, grace_s: float, policy: MisfirePolicy
) -> MisfireDecision:
    """Split due fire times (oldest first) into those to run and those to skip.

    A fire time older than `grace_s` seconds was missed (nothing was running then).
    `skip` runs only the on-time ones; `once` runs only the latest due fire time;
    `all` runs the latest MISFIRE_ALL_LIMIT of them.
    """
    if not due:
        return MisfireDecision((), ())
    cutoff = now - timedelta(seconds=grace_s)
    if policy is MisfirePolicy.SKIP:
        run = tuple(f for f in due if f >= cutoff)
        skip = tuple(f for f in due if f < cutoff)
    elif policy is MisfirePolicy.ONCE:
        run, skip = (due[-1],), tuple(due[:-1])
    else:
        run = tuple(due[-MISFIRE_ALL_LIMIT:])
        skip = tuple(due[:-MISFIRE_ALL_LIMIT])
    return MisfireDecision(run, skip)
