"""Problems: every input at fault, each named, read as the first where one message is
wanted."""

from __future__ import annotations

import pickle

import pytest

from synchub.core.errors import InvalidFields, InvalidInput, InvalidName, Problems, blame


def test_problems_keep_each_error_blamed_on_its_field_unless_it_names_its_own() -> None:
    problems = Problems()
    with problems.about("retries"):
        raise InvalidInput("Bad retries")
    with problems.about("params"):
        raise InvalidInput("Bad source", field="source")
    with problems.about("queue"):
        pass
    with pytest.raises(InvalidFields) as caught:
        problems.raise_any()
    assert [(p.field, p.message) for p in caught.value.problems] == [
        ("retries", "Bad retries"),
        ("source", "Bad source"),
    ]
    assert caught.value.message == "Bad retries" and caught.value.field == "retries"


def test_one_problem_is_raised_as_itself_and_none_raises_nothing() -> None:
    problems = Problems()
    problems.raise_any()
    with problems.about("name"):
        raise InvalidName("Bad job name 'a b'")
    with pytest.raises(InvalidName) as caught:
        problems.raise_any()
    assert caught.value.field == "name"


def test_several_problems_found_inside_are_flattened() -> None:
    inner = Problems()
    for field in ("op", "source"):
        with inner.about(field):
            raise InvalidInput(f"bad {field}")
    outer = Problems()
    with outer.about("params"):
        inner.raise_any()
    assert [p.field for p in outer.found] == ["op", "source"]


def test_blame_names_the_field_and_lets_the_error_through() -> None:
    with pytest.raises(InvalidInput) as caught, blame("cron"):
        raise InvalidInput("bad minute")
    assert caught.value.field == "cron"


def test_an_error_with_its_problems_crosses_a_process_boundary() -> None:
    error = InvalidFields([InvalidInput("a", field="x"), InvalidInput("b", field="y")])
    again = pickle.loads(pickle.dumps(error))
    assert again.message == "a" and [p.field for p in again.problems] == ["x", "y"]
