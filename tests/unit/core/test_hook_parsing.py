"""Hooks in the domain: how they are read and checked, and what they are told."""

from __future__ import annotations

from typing import Any

import pytest

from synchub.core.errors import InvalidInput
from synchub.core.hooks import (
    DEFAULT_TIMEOUT_S,
    Hook,
    HookContext,
    HookEvent,
    OnError,
    parse_hooks,
    stored,
)


def test_it_reads_hooks_with_their_defaults_and_stores_them_readably() -> None:
    hooks = parse_hooks(
        {"before": [{"command": ["/bin/mount", "/mnt"], "timeout": "5m", "on_error": "fail"}],
         "finally": [{"command": ["/bin/umount", "/mnt"]}]}
    )  # fmt: skip
    assert hooks[HookEvent.BEFORE] == [
        Hook(HookEvent.BEFORE, ("/bin/mount", "/mnt"), 300, OnError.FAIL)
    ]
    assert hooks[HookEvent.FINALLY][0].timeout_s == DEFAULT_TIMEOUT_S
    # It should read back what it stores, unchanged.
    assert parse_hooks(stored(hooks)) == hooks


def test_an_event_without_hooks_is_no_hook() -> None:
    assert parse_hooks({"after": []}) == {} and parse_hooks(None) == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "must be an object"),
        ({"before": {"command": ["/x"]}}, "must be a list"),
        ({"before": [{"command": ["/x"]}] * 11}, "at most 10"),
        ({"before": ["/x"]}, r"hooks.before\[0\]: a hook is an object"),
        ({"before": [{}]}, "give either command"),
        ({"before": [{"command": ["x"]}]}, "absolute path"),
        ({"before": [{"command": ["/x", 1]}]}, "each argument is a string"),
        ({"before": [{"command": ["/x"], "timeout": True}]}, "seconds or a duration"),
        ({"before": [{"command": ["/x"], "timeout": 0}]}, "from 1s to 6h"),
        ({"after": [{"command": ["/x"]}, {"command": ["/x"], "on_error": "?"}]}, r"after\[1\]"),
    ],
)
def test_it_refuses_a_bad_hook_naming_it(raw: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        parse_hooks(raw)
    assert caught.value.field == "hooks"


def test_a_hook_is_told_the_runs_context_and_nothing_else() -> None:
    ctx = HookContext(job="photos", run_id=7, state="failed", error="boom", bytes=3, files=1)
    assert ctx.env(HookEvent.ON_FAILURE) == {
        "SYNCHUB_HOOK": "on_failure",
        "SYNCHUB_JOB": "photos",
        "SYNCHUB_RUN_ID": "7",
        "SYNCHUB_STATE": "failed",
        "SYNCHUB_ERROR": "boom",
        "SYNCHUB_BYTES": "3",
        "SYNCHUB_FILES": "1",
        "SYNCHUB_DELETES": "0",
    }
