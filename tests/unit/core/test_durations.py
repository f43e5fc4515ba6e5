"""Durations as users type them: `30s`, `15m`, `6h`, `1d`, `1h30m`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synchub.core.durations import format_duration, parse_duration
from synchub.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 15 * 60),
        ("6h", 6 * 3600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("2w", 14 * 86400),  # weeks
        ("1d2h3m4s", 86400 + 2 * 3600 + 3 * 60 + 4),
        (" 2H ", 7200),  # outer blanks and upper case are fine
    ],
)
def test_it_reads_a_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0s", "it must be at least 1s"),
        ("0", "give a unit"),
        ("5", "give a unit, e.g. 5s, 5m, 5h or 5d"),  # seconds or minutes? not guessed
        ("0.5s", "use whole numbers with a unit, e.g. 90s or 1h30m"),
        ("1.5h", "use whole numbers with a unit"),  # spelled 1h30m
        (".5", "use whole numbers with a unit"),
        ("-5m", "it cannot be negative"),
        ("abc", "use a number with a unit"),
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("5x", "use a number with a unit"),  # an unknown unit
        ("h", "use a number with a unit"),  # a unit without a number
        ("1h 30m", "use a number with a unit"),  # no blanks inside
        ("²", "use a number with a unit"),  # str.isdigit() says yes, int() says no
        ("١٢s", "use a number with a unit"),  # Arabic-Indic digits
        ("2h2h2h", "the unit h comes more than once; give each unit once"),
        ("1h30m15m", "the unit m comes more than once"),
    ],
)
def test_it_rejects_what_is_not_a_duration_saying_why(text: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=f"^Bad duration.*{problem}"):
        parse_duration(text)


def test_the_message_names_the_setting_and_quotes_the_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_duration("soon", what="retry delay")
    assert str(caught.value) == (
        "Bad retry delay 'soon': use a number with a unit, e.g. 30s, 15m, 6h or 1d"
    )


def test_it_enforces_the_minimum_it_is_given() -> None:
    assert parse_duration("1m", minimum=60) == 60
    with pytest.raises(InvalidInput, match="at least 1m"):
        parse_duration("59s", minimum=60)


def test_zero_is_allowed_when_the_minimum_is_zero() -> None:
    assert parse_duration("0s", minimum=0) == 0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1, "1s"),
        (90, "1m30s"),
        (5400, "1h30m"),
        (86400, "1d"),
        (8 * 86400, "8d"),  # no weeks: days read more plainly
        (90061, "1d1h1m1s"),
    ],
)
def test_it_writes_the_shortest_exact_spelling(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_it_refuses_to_write_a_negative_duration() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(-1)


@given(st.integers(1, 10**10))
def test_what_it_writes_it_reads_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@settings(max_examples=300)
@given(st.text(max_size=12))
def test_any_text_is_either_a_duration_or_bad_input(text: str) -> None:
    # Anything but InvalidInput (ValueError from int(), say) fails the test.
    try:
        seconds = parse_duration(text)
    except InvalidInput as exc:
        message = str(exc)
    else:
        assert seconds >= 1
        return
    assert message.startswith("Bad duration")


@pytest.mark.parametrize("text", ["9" * 5000 + "s", "1s" * 5000, " " + "9" * 40 + "d"])
def test_a_huge_duration_is_refused_in_words(text: str) -> None:
    # Many digits made int() raise ValueError (a 500 from the API and the console).
    with pytest.raises(InvalidInput, match="too long"):
        parse_duration(text, what="mute duration")
