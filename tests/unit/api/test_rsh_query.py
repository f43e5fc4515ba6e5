"""The console's `query` parameter: data, never code; whitelisted; linear-time regexes."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synchub.api.compat.rsh_query import parse_query
from synchub.core.errors import BadQuery

TASKS = {"status": int, "fileName": str, "name": str}


def test_the_consoles_own_queries_parse_and_match() -> None:
    query = json.dumps({"status": 3, "fileName": {"$regex": "IMG_"}, "name": {"$regex": ""}})
    conditions = {c.field: c for c in parse_query(query, TASKS)}
    assert conditions["status"].matches(3) and not conditions["status"].matches(4)
    assert conditions["fileName"].matches("2024/IMG_0001.jpg")
    assert not conditions["fileName"].matches("notes.txt")
    assert conditions["name"].matches("anything")
    assert parse_query("{}", TASKS) == [] == parse_query(None, TASKS)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("__import__('os').system('id')", "must be a JSON object"),
        ("[1, 2]", "must be a JSON object"),
        ('{"path": "/etc"}', "'path' is not allowed"),
        ('{"status": "3"}', "must be an integer"),
        ('{"status": true}', "must be an integer"),
        ('{"name": {"$where": "1"}}', 'only {"$regex"'),
        ('{"name": {"$regex": "(a"}}', "not a valid pattern"),
        ('{"name": {"$regex": "(a)\\\\1"}}', "not a valid pattern"),
        ('{"name": {"$regex": "a", "$options": "x"}}', "may only be"),
        ('{"name": {"$regex": "' + "a" * 201 + '"}}', "at most 200"),
        ("{" * 5000, "longer than"),
        ("[" * 1500 + "]" * 1500, "longer than"),
    ],
)
def test_anything_else_is_refused_with_a_clear_message(query: str, words: str) -> None:
    with pytest.raises(BadQuery) as caught:
        parse_query(query, TASKS)
    assert words in caught.value.message


def test_a_deeply_nested_query_is_refused_not_crashed() -> None:
    with pytest.raises(BadQuery):
        parse_query("[" * 900 + "]" * 900, TASKS)


def test_a_pathological_regex_matches_in_linear_time() -> None:
    (condition,) = parse_query('{"name": {"$regex": "(a+)+$"}}', TASKS)
    # A backtracking engine would not return before the test's timeout fails it.
    assert not condition.matches("a" * 200_000 + "b")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=4) | json_values)
def test_no_input_reaches_anything_but_the_whitelist(data: object) -> None:
    try:
        conditions = parse_query(json.dumps(data), TASKS)
    except BadQuery:
        return
    for c in conditions:
        assert c.field in TASKS
        assert c.pattern is not None or isinstance(c.value, TASKS[c.field])


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_text_is_either_a_query_or_a_bad_query(text: str) -> None:
    with contextlib.suppress(BadQuery):
        parse_query(text, TASKS)
