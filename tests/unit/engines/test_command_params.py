"""A command job's parameters."""

from __future__ import annotations

from typing import Any

import pytest

from synchub.core.errors import InvalidInput
from synchub.engines.command import CommandEngine


def validate(params: dict[str, Any]) -> dict[str, Any]:
    return CommandEngine(kill_grace=1.0).validate(params, frozenset())


def test_it_normalizes_a_command() -> None:
    params = validate({"argv": ["restic", "backup", "/data"], "env": {"RESTIC_REPOSITORY": "/r"}})
    assert params == {
        "argv": ["restic", "backup", "/data"],
        "env": {"RESTIC_REPOSITORY": "/r"},
        "cwd": None,
    }
    assert validate(params) == params


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "argv must be a non-empty list"),
        ({"argv": []}, "argv must be a non-empty list"),
        ({"argv": "restic backup"}, "argv must be a non-empty list"),  # never a shell line
        ({"argv": ["restic", 3]}, "list of strings"),
        ({"argv": ["a\0b"]}, "without NUL"),
        ({"argv": [" "]}, "must not be empty"),
        ({"argv": ["x"], "env": ["A=1"]}, "env must be an object"),
        ({"argv": ["x"], "env": {"1BAD": "x"}}, "Bad environment variable name '1BAD'"),
        ({"argv": ["x"], "env": {"A": 1}}, "The value of A must be a string"),
        ({"argv": ["x"], "cwd": "relative/dir"}, "cwd must be an absolute path"),
        ({"argv": ["x"], "shell": True}, "Unknown parameter 'shell'"),
    ],
)
def test_it_refuses_bad_parameters(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate(params)


def test_commands_use_no_remotes() -> None:
    assert CommandEngine().remotes_used({"argv": ["x"]}) == frozenset()
