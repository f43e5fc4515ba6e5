"""Alerts: which events exist, and when a job's run history calls for one.

A job's *chains* are what alerts count: a run and its retries, ended when the last
attempt ends without another retry. Cancelled, skipped and dry runs end no chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from synchub.core.errors import InvalidInput


class AlertEvent(StrEnum):
    FAILURE = "failure"  #: a chain ended without success (failed, timed out, lost, stopped)
    RECOVERY = "recovery"  #: the first success after a failure that was told


DEFAULT_EVENTS = (AlertEvent.FAILURE, AlertEvent.RECOVERY)
#: Events users ask for that are not sent yet: refused by name rather than ignored.
NOT_YET = frozenset({"stale", "missed", "long", "watch", "digest"})
MAX_AFTER = 1000


def parse_events(values: Sequence[str]) -> list[AlertEvent]:
    """The events named (comma-separated or repeated), in a fixed order; InvalidInput
    for an unknown one or none."""
    names = {part.strip().lower() for value in values for part in value.split(",")}
    names.discard("")
    if not names:
        raise InvalidInput("Name at least one event: " + ", ".join(e.value for e in AlertEvent))
    for name in sorted(names):
        if name in NOT_YET:
            raise InvalidInput(
                f"The {name!r} event is not sent yet; use " + ", ".join(e.value for e in AlertEvent)
            )
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
