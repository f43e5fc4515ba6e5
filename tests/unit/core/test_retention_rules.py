"""The retention rules: what a user may type, and which runs of a retry chain go."""

from __future__ import annotations

import pytest

from synchub.core.errors import InvalidInput
from synchub.core.retention import (
    Candidate,
    KeepRuns,
    parse_keep_logs,
    parse_keep_runs,
    removable_ids,
)


@pytest.mark.parametrize(
    ("typed", "rule"),
    [
        ("30d", KeepRuns(age_s=30 * 86400)),
        ("720h", KeepRuns(age_s=30 * 86400)),  # shown back as 30d
        ("500", KeepRuns(count=500)),
        (" 1 ", KeepRuns(count=1)),
        ("default", None),  # the settings' rule
        ("", None),
    ],
)
def test_it_reads_a_period_or_a_count(typed: str, rule: KeepRuns | None) -> None:
    assert parse_keep_runs(typed) == rule


def test_a_rule_reads_back_as_typed() -> None:
    assert KeepRuns(age_s=30 * 86400).text() == "30d"
    assert KeepRuns(count=500).text() == "500"
    assert parse_keep_runs(KeepRuns(age_s=86400 * 14).text()) == KeepRuns(age_s=86400 * 14)


@pytest.mark.parametrize(
    "typed",
    [
        "0",  # keeps nothing
        "-3",
        "abc",
        "0d",
        "30m",  # under an hour
        "1.5d",
        "²",  # not an ASCII digit
        "11y",
        "20000000",  # more than the most runs
        "9" * 5000,  # more digits than int() reads: refused in words, not a ValueError
    ],
)
def test_it_refuses_what_keeps_nothing_or_is_not_a_keep(typed: str) -> None:
    with pytest.raises(InvalidInput, match="keep-runs"):
        parse_keep_runs(typed)


def test_keep_logs_takes_a_period_only() -> None:
    assert parse_keep_logs("14d") == 14 * 86400
    assert parse_keep_logs("default") is None
    for typed in ("14", "0d", "abc"):
        with pytest.raises(InvalidInput, match="keep-logs"):
            parse_keep_logs(typed)


def test_a_chain_goes_only_whole() -> None:
    # 1 <- 2 <- 3: all removable, all go. 4 <- 5 with 5 kept: 4 stays.
    # 6 <- 7 where 7 is no candidate here (not looked at): 6 stays.
    candidates = [Candidate(1, None, True), Candidate(2, 1, True), Candidate(3, 2, True),
                  Candidate(4, None, True), Candidate(5, 4, False), Candidate(6, None, True),
                  Candidate(8, None, False)]  # fmt: skip
    retries = {1: [2], 2: [3], 4: [5], 6: [7]}
    assert removable_ids(candidates, retries) == {1, 2, 3}
