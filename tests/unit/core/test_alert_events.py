"""When a job's chain ends call for an alert: once per change of state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from synchub.core.alerts import (
    AlertEvent,
    check_after,
    check_digest_at,
    digest_due,
    events_for,
    long_threshold,
    parse_events,
    sends,
    stale_deadline,
)
from synchub.core.errors import InvalidInput
from synchub.core.schedules import Schedule, ScheduleKind, cron_schedule, interval_schedule

F, S = False, True


@pytest.mark.parametrize(
    ("outcomes", "after", "event"),
    [
        ([F], 1, AlertEvent.FAILURE),
        ([F, S], 1, AlertEvent.FAILURE),
        ([F, F], 1, None),  # still failing: already told
        ([F, F, S], 2, AlertEvent.FAILURE),  # the second in a row
        ([F, S], 2, None),  # one failure: not yet
        ([F, F, F], 2, None),  # the third: already told at the second
        ([S, F], 1, AlertEvent.RECOVERY),
        ([S, F], 2, None),  # the failure was never told
        ([S, F, F, F], 2, AlertEvent.RECOVERY),
        ([S, S], 1, None),
        ([S], 1, None),
        ([], 1, None),
    ],
)
def test_one_message_per_change_of_state(outcomes: list[bool], after: int, event: object) -> None:
    assert events_for(outcomes, after) == event


def test_events_are_named_strictly() -> None:
    assert parse_events(["recovery,FAILURE"]) == [AlertEvent.FAILURE, AlertEvent.RECOVERY]
    with pytest.raises(InvalidInput, match="Unknown event 'oops'"):
        parse_events(["failure", "oops"])
    assert parse_events(["digest,failure"]) == [AlertEvent.FAILURE, AlertEvent.DIGEST]
    with pytest.raises(InvalidInput, match="at least one event"):
        parse_events([","])
    for bad in (0, -1, 1001, True):
        with pytest.raises(InvalidInput, match="Bad --after"):
            check_after(bad)  # type: ignore[arg-type]


UTC = UTC


def test_a_job_is_stale_an_hour_after_its_second_missed_fire() -> None:
    hourly = cron_schedule("0 * * * *", "UTC")
    since = datetime(2026, 3, 2, 10, 5, tzinfo=UTC)  # a success just after 10:00
    assert stale_deadline(hourly, since, None) == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def test_a_weekday_job_is_not_stale_over_the_weekend() -> None:
    # Mon-Fri at 02:00: the success on Friday morning is followed by Monday's and
    # Tuesday's fire times, so the weekend counts as one interval.
    weekdays = cron_schedule("0 2 * * 1-5", "Europe/Berlin")
    friday = datetime(2026, 3, 6, 1, 10, tzinfo=UTC)
    assert stale_deadline(weekdays, friday, None) == datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def test_the_jobs_own_stale_after_wins_and_a_manual_job_is_never_stale() -> None:
    since = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    every = interval_schedule(900, since)
    assert stale_deadline(every, since, 7200) == since + timedelta(hours=2)
    assert stale_deadline(Schedule(kind=ScheduleKind.NONE), since, 7200) is None


@pytest.mark.parametrize(
    ("own", "durations", "threshold"),
    [
        (None, [600.0] * 4, None),  # too few successes to judge
        (None, [600.0] * 5, 1800.0),
        (None, [60.0, 60.0, 600.0, 600.0, 600.0, 9000.0], 1800.0),  # the median, not the mean
        (None, [0.0] * 5, 3.0),  # instant runs: at least 3 s
        (7200, [], 7200.0),  # the job's own setting
    ],
)
def test_a_run_is_long_after_its_own_limit_or_3x_the_median(
    own: int | None, durations: list[float], threshold: float | None
) -> None:
    assert long_threshold(own, durations) == threshold


def test_a_digest_takes_over_the_events_it_summarises_only() -> None:
    events = ["failure", "recovery", "stale", "missed", "long", "watch", "digest"]
    told = [e for e in AlertEvent if e is not AlertEvent.DIGEST and sends(events, e)]
    assert told == [AlertEvent.LONG, AlertEvent.WATCH]
    assert sends(["failure"], AlertEvent.FAILURE) and not sends(["stale"], AlertEvent.FAILURE)


def test_digest_at_is_a_time_of_day() -> None:
    assert check_digest_at(" 7:05 ") == "07:05"
    for bad in ("24:00", "07:60", "7", "noon", "-1:00", "07:00:00", ""):
        with pytest.raises(InvalidInput, match="Bad --digest-at"):
            check_digest_at(bad)


def test_the_digest_due_is_the_last_time_of_day_in_its_zone_across_dst() -> None:
    now = datetime(2025, 6, 2, 5, 59, tzinfo=UTC)  # 07:59 in Berlin (UTC+2)
    assert digest_due("08:00", "Europe/Berlin", now) == datetime(2025, 6, 1, 6, 0, tzinfo=UTC)
    assert digest_due("08:00", "Europe/Berlin", now + timedelta(minutes=1)) == now + timedelta(
        minutes=1
    )
    # Berlin leaves summer time on 2025-10-26: 08:00 is 06:00 UTC before, 07:00 after.
    after = datetime(2025, 10, 26, 7, 0, tzinfo=UTC)
    assert digest_due("08:00", "Europe/Berlin", after) == after
    assert digest_due("08:00", "Europe/Berlin", after - timedelta(seconds=1)) == datetime(
        2025, 10, 25, 6, 0, tzinfo=UTC
    )
