"""When a job's chain ends call for an alert: once per change of state."""

from __future__ import annotations

import pytest

from synchub.core.alerts import AlertEvent, check_after, events_for, parse_events
from synchub.core.errors import InvalidInput

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
    with pytest.raises(InvalidInput, match="'stale' event is not sent yet"):
        parse_events(["stale"])
    with pytest.raises(InvalidInput, match="at least one event"):
        parse_events([","])
    for bad in (0, -1, 1001, True):
        with pytest.raises(InvalidInput, match="Bad --after"):
            check_after(bad)  # type: ignore[arg-type]
