"""Retry policy, log cap and names: pure rules."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synchub.core.errors import InvalidName
from synchub.core.logcap import LogCap
from synchub.core.names import check_name
from synchub.core.policies import RetryPolicy
from synchub.core.runs import RunState


@pytest.mark.parametrize(
    ("state", "attempt", "permanent", "expected"),
    [
        (RunState.FAILED, 1, False, True),  # a temporary failure is retried
        (RunState.FAILED, 4, False, False),  # three retries used up
        (RunState.FAILED, 1, True, False),  # rclone said retrying cannot help
        (RunState.TIMED_OUT, 1, False, True),  # timeouts are retried
        (RunState.LOST, 3, False, True),  # so are runs whose worker vanished
        (RunState.CANCELLED, 1, False, False),  # a cancel is what the user wanted
        (RunState.SUCCEEDED, 1, False, False),
    ],
)
def test_it_retries_only_what_a_retry_can_help(
    state: RunState, attempt: int, permanent: bool, expected: bool
) -> None:
    assert RetryPolicy(retries=3).should_retry(state, attempt, permanent=permanent) is expected


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=1, max_value=600))
def test_backoff_doubles_with_jitter_within_bounds(attempt: int, delay: int) -> None:
    policy = RetryPolicy(retries=30, delay_s=delay, max_delay_s=3600)
    base = min(3600, delay * 2 ** (attempt - 1))
    d = policy.delay(attempt, random.Random(attempt))
    assert base / 2 <= d <= base


def test_the_log_cap_keeps_head_and_latest_tail() -> None:
    cap = LogCap(100)
    kept: dict[int, int] = {}
    for _ in range(50):
        seq, dropped = cap.admit(10)
        kept[seq] = 10
        for d in dropped:
            del kept[d]
    assert sum(kept.values()) <= 100
    assert list(kept)[:5] == [1, 2, 3, 4, 5]  # the head stays
    assert list(kept)[-1] == 50  # the newest line is there
    assert cap.dropped_lines == 50 - len(kept)
    assert cap.dropped_bytes == 10 * cap.dropped_lines


@pytest.mark.parametrize("name", ["photos", "nas-1", "a.b_c", "X9"])
def test_it_accepts_plain_names(name: str) -> None:
    assert check_name(name, what="job") == name


@pytest.mark.parametrize("name", ["", "my job", "a;b", "$(x)", "-x", "a/b", "x" * 65, "é"])
def test_it_refuses_names_with_spaces_or_shell_metacharacters(name: str) -> None:
    with pytest.raises(InvalidName, match="Bad job name"):
        check_name(name, what="job")


@pytest.mark.parametrize("what", ["job", "remote"])
def test_new_is_reserved_for_the_consoles_forms(what: str) -> None:
    # /jobs/new and /remotes/new are forms: no job or remote may be called "new".
    with pytest.raises(InvalidName, match="reserved"):
        check_name("new", what=what)
    assert check_name("New", what=what) == "New"  # paths are case-sensitive
    assert check_name("new", what="tag") == "new"
