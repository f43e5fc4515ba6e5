"""The console's words for a watched folder, a file task, a last success's age and
an audit event's changes."""

from __future__ import annotations

from typing import Any

import pytest

from synchub.services.overview import JobStatus
from synchub.web.words import changed_fields, folder_badge, staleness, task_badge


@pytest.mark.parametrize(
    ("folder", "state"),
    [
        ({"running": True, "enabled": True, "watch_problem": None}, "scanning"),
        ({"running": False, "enabled": False, "watch_problem": None}, "disabled"),
        ({"running": False, "enabled": True, "watch_problem": "gone"}, "not-watched"),
        ({"running": False, "enabled": True, "watch_problem": None}, "watching"),
    ],
)
def test_a_folder_is_scanning_disabled_not_watched_or_watching(
    folder: dict[str, Any], state: str
) -> None:
    assert folder_badge(folder).state == state


def test_a_transfer_says_how_far_it_is() -> None:
    assert task_badge({"state": "transferring", "percent": 42}).word == "transferring 42 %"
    assert task_badge({"state": "failed"}).tone == "bad"


def status(**given: Any) -> JobStatus:
    fields: dict[str, Any] = {"job": {}, "last": None, "last_success_at": None,
                              "failing": False, "stale_for": None}  # fmt: skip
    return JobStatus(**{**fields, **given})


def test_a_last_success_is_fresh_stale_or_never() -> None:
    assert staleness(status(last_success_at="2026-01-01T00:00:00+00:00")).state == "fresh"
    assert staleness(status(stale_for=7201.0)).state == "stale"
    never = staleness(status(failing=True))
    assert (never.state, never.tone, never.icon) == ("never", "bad", "✕")
    assert staleness(status()).tone == "muted"  # never ran: nothing to worry about yet


def test_an_edit_lists_what_it_changed_and_an_add_lists_nothing() -> None:
    before = {"retries": 1, "tags": [], "updated_at": "a"}
    after = {"retries": 2, "tags": [], "updated_at": "b", "queue": "x"}
    assert changed_fields(before, after) == ["queue", "retries"]
    assert changed_fields(None, after) == []
