"""A run's states and the moves between them, as DESIGN.md draws them."""

from __future__ import annotations

import pytest

from synchub.core.runs import (
    NEXT,
    RETRYABLE,
    TERMINAL,
    RunState,
    can_move,
    celery_state,
    severe_enough,
    sources_of,
)

P, Q, R = RunState.PENDING, RunState.QUEUED, RunState.RUNNING
OK, FAIL, TIMEOUT, LOST = RunState.SUCCEEDED, RunState.FAILED, RunState.TIMED_OUT, RunState.LOST
CANCEL, SKIP = RunState.CANCELLED, RunState.SKIPPED

# DESIGN.md, "Run states":
#
#   pending ──▶ queued ──▶ running ──▶ succeeded
#      │           │          ├──────▶ failed
#      │           │          ├──────▶ timed_out
#      │           │          ├──────▶ lost
#      │           │          ├──────▶ cancelled
#      │           │          └──────▶ skipped   (a before hook exited 75)
#      ├──▶ skipped
#      └──▶ cancelled
#
# A queued run may also go back to pending (the broker lost it and it is dispatched
# again), or be skipped (overlap policy at claim time), or be cancelled before it starts.
DIAGRAM: dict[RunState, set[RunState]] = {
    P: {Q, SKIP, CANCEL},
    Q: {R, CANCEL, P, SKIP},
    R: {OK, FAIL, TIMEOUT, LOST, CANCEL, SKIP},
    OK: set(),
    FAIL: set(),
    TIMEOUT: set(),
    LOST: set(),
    CANCEL: set(),
    SKIP: set(),
}
ALL_MOVES = [(source, target) for source in RunState for target in RunState]


def test_the_diagram_covers_every_state() -> None:
    assert set(DIAGRAM) == set(RunState)


@pytest.mark.parametrize("state", list(RunState))
def test_the_next_table_matches_the_diagram(state: RunState) -> None:
    assert set(NEXT.get(state, frozenset())) == DIAGRAM[state]


@pytest.mark.parametrize(("source", "target"), ALL_MOVES)
def test_can_move_allows_exactly_the_arrows_of_the_diagram(
    source: RunState, target: RunState
) -> None:
    assert can_move(source, target) is (target in DIAGRAM[source])


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_a_finished_run_never_moves_again(state: RunState) -> None:
    assert not any(can_move(state, target) for target in RunState)


def test_the_terminal_states_are_those_without_exits() -> None:
    assert {state for state in RunState if not DIAGRAM[state]} == TERMINAL
    assert set(RunState) - TERMINAL == {P, Q, R}


def test_no_state_moves_to_itself() -> None:
    assert not any(can_move(state, state) for state in RunState)


def test_every_state_can_be_reached_from_pending() -> None:
    reached, frontier = {P}, [P]
    while frontier:
        for target in NEXT.get(frontier.pop(), frozenset()):
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(RunState)


@pytest.mark.parametrize(
    ("target", "sources"),
    [
        (P, {Q}),  # re-dispatch after the broker lost it
        (Q, {P}),
        (R, {Q}),  # only a queued run can be claimed
        (OK, {R}),
        (FAIL, {R}),
        (TIMEOUT, {R}),
        (LOST, {R}),
        (CANCEL, {P, Q, R}),  # cancel works until the run finishes
        (SKIP, {P, Q, R}),
    ],
)
def test_sources_of_lists_the_states_that_may_move_to_a_state(
    target: RunState, sources: set[RunState]
) -> None:
    assert sources_of(target) == frozenset(sources)


@pytest.mark.parametrize("target", list(RunState))
def test_sources_of_agrees_with_can_move(target: RunState) -> None:
    assert sources_of(target) == {s for s in RunState if can_move(s, target)}


@pytest.mark.parametrize(
    ("state", "name"),
    [
        (P, "PENDING"),
        (Q, "PENDING"),
        (R, "STARTED"),
        (OK, "SUCCESS"),
        (FAIL, "FAILURE"),
        (TIMEOUT, "FAILURE"),
        (LOST, "FAILURE"),
        (CANCEL, "REVOKED"),
        (SKIP, "REVOKED"),  # not in DESIGN.md: it never ran, and Celery has no "skipped"
    ],
)
def test_celery_users_see_the_names_they_know(state: RunState, name: str) -> None:
    assert celery_state(state) == name


@pytest.mark.parametrize("state", [FAIL, TIMEOUT, LOST])
def test_a_failed_attempt_with_a_retry_waiting_shows_as_retry(state: RunState) -> None:
    assert celery_state(state, retry_scheduled=True) == "RETRY"


@pytest.mark.parametrize("state", sorted(set(RunState) - RETRYABLE))
def test_a_waiting_retry_does_not_change_the_name_of_other_states(state: RunState) -> None:
    assert celery_state(state, retry_scheduled=True) == celery_state(state)


def test_only_finished_runs_are_retried() -> None:
    assert {FAIL, TIMEOUT, LOST} == RETRYABLE
    assert RETRYABLE <= TERMINAL


@pytest.mark.parametrize("state", list(RunState))
def test_the_stored_value_is_the_lower_case_name(state: RunState) -> None:
    assert state.value == state.name.lower()
    assert RunState(state.value) is state


@pytest.mark.parametrize(
    ("level", "minimum", "shown"),
    [
        ("error", "warning", True),  # worse
        ("warning", "warning", True),  # the same
        ("info", "warning", False),  # milder
        ("chatter", "info", True),  # not listed: counts as info
        ("chatter", "notice", False),
    ],
)
def test_a_log_line_is_severe_enough_at_its_level_or_worse(
    level: str, minimum: str, shown: bool
) -> None:
    assert severe_enough(level, minimum) is shown
