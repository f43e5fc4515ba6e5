"""Alerts: which events exist, and when a job's run history calls for one.

A job's *chains* are what alerts count: a run and its retries, ended when the last
attempt ends without another retry. Cancelled, skipped and dry runs end no chain.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from synchub.core.errors import InvalidInput
from synchub.core.schedules import Schedule, cron_schedule, next_fires


class AlertEvent(StrEnum):
    FAILURE = "failure"  #: a chain ended without success (failed, timed out, lost, stopped)
    RECOVERY = "recovery"  #: the first success after a failure that was told
    STALE = "stale"  #: a scheduled job has had no success for longer than it should
    LONG = "long"  #: a run is still going after longer than it should
    MISSED = "missed"  #: fire times skipped by the misfire or overlap policy
    WATCH = "watch"  #: a watched folder can no longer be watched
    DIGEST = "digest"  #: a daily summary instead of a message per event


DEFAULT_EVENTS = (AlertEvent.FAILURE, AlertEvent.RECOVERY, AlertEvent.STALE)
#: What a daily digest summarises: an alert with `digest` sends none of these one by one.
DIGESTED = frozenset({AlertEvent.FAILURE, AlertEvent.RECOVERY, AlertEvent.STALE, AlertEvent.MISSED})
DEFAULT_DIGEST_AT = "08:00"

MAX_AFTER = 1000
#: The margin a derived stale deadline leaves after the second fire time missed.
STALE_MARGIN = timedelta(hours=1)
#: Successful runs a derived `long` threshold is the median of, and the fewest it needs.
LONG_HISTORY = 20
LONG_LEAST = 5
LONG_FACTOR = 3


def parse_events(values: Sequence[str]) -> list[AlertEvent]:
    """The events named (comma-separated or repeated), in a fixed order; InvalidInput
    for an unknown one or none."""
    names = {part.strip().lower() for value in values for part in value.split(",")}
    names.discard("")
    if not names:
        raise InvalidInput("Name at least one event: " + ", ".join(e.value for e in AlertEvent))
    for name in sorted(names):
        if name not in AlertEvent.__members__.values():
            raise InvalidInput(
                f"Unknown event {name!r}: use " + ", ".join(e.value for e in AlertEvent)
            )
    return [e for e in AlertEvent if e.value in names]


def check_after(after: int) -> int:
    if isinstance(after, bool) or not 1 <= after <= MAX_AFTER:
        raise InvalidInput(
            f"Bad --after {after}: use a number of failed chains from 1 to {MAX_AFTER}"
        )
    return after


def events_for(outcomes: Sequence[bool], after: int) -> AlertEvent | None:
    """The event the newest chain end calls for. `outcomes` are the job's chain ends,
    newest first (True: succeeded), at least the newest `after + 1` when it has them.

    One message per change of state: the `after`-th failure in a row tells, later ones
    do not; a success tells only after a failure that was told."""
    if not outcomes:
        return None
    if not outcomes[0]:
        return AlertEvent.FAILURE if _failures_from(outcomes, 0) == after else None
    return AlertEvent.RECOVERY if _failures_from(outcomes, 1) >= after else None


def _failures_from(outcomes: Sequence[bool], start: int) -> int:
    count = 0
    for succeeded in outcomes[start:]:
        if succeeded:
            break
        count += 1
    return count


def stale_deadline(
    schedule: Schedule, since: datetime, stale_after_s: int | None
) -> datetime | None:
    """When a job with no success since `since` becomes stale: `since` plus its own
    `stale_after_s`, or else its second fire time after `since` plus an hour (twice
    its interval, read from the schedule so a weekday cron gets its weekend). None
    for a job without a schedule."""
    fires = next_fires(schedule, since, 2)
    if len(fires) < 2:
        return None
    if stale_after_s is not None:
        return since + timedelta(seconds=stale_after_s)
    return fires[1] + STALE_MARGIN


def long_threshold(long_after_s: int | None, durations: Sequence[float]) -> float | None:
    """Seconds after which a run is long: the job's own setting, or 3 x the median of
    its last successful runs' durations when it has at least LONG_LEAST; None when it
    has neither."""
    if long_after_s is not None:
        return float(long_after_s)
    if len(durations) < LONG_LEAST:
        return None
    return LONG_FACTOR * max(1.0, statistics.median(durations[:LONG_HISTORY]))


def sends(events: Sequence[str], event: AlertEvent) -> bool:
    """Whether an alert with `events` sends `event` as a message of its own: not when
    its daily digest summarises it."""
    if event.value not in events:
        return False
    return not (AlertEvent.DIGEST.value in events and event in DIGESTED)


def check_digest_at(text: str) -> str:
    """A digest's time of day as HH:MM (24-hour); InvalidInput otherwise."""
    parts = text.strip().split(":")
    ok = len(parts) == 2 and all(p.isdigit() and len(p) <= 2 for p in parts)
    if not ok or not (0 <= int(parts[0]) <= 23 and 0 <= int(parts[1]) <= 59):
        raise InvalidInput(f"Bad --digest-at {text!r}: use a time of day as HH:MM, e.g. 08:00")
    return f"{int(parts[0]):02d}:{int(parts[1]):02d}"


def digest_due(at: str, tz: str, now: datetime) -> datetime:
    """The latest time of day `at` (HH:MM in zone `tz`) at or before `now`: when the
    digest now due was due. Read as a daily cron, so a DST change is handled as cron's."""
    hour, minute = (int(p) for p in at.split(":"))
    daily = cron_schedule(f"{minute} {hour} * * *", tz)
    fires = next_fires(daily, now - timedelta(hours=50), 3)
    return max(f for f in fires if f <= now)
