"""The console's words for a watched folder, a file task, a last success's age and
an audit event's changes."""

from __future__ import annotations

from typing import Any

import pytest

from synchub.core.tasks import TaskState
from synchub.services.overview import JobStatus
from synchub.services.tasks import TaskView, WatchedFolder
from synchub.web.words import changed_fields, folder_badge, staleness, task_badge
from tests.support.views import a_job


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
    job = a_job(enabled=folder["enabled"], watch_problem=folder["watch_problem"])
    assert folder_badge(WatchedFolder(job, 0, folder["running"], None)).state == state


def task(state: str, percent: int | None = None) -> TaskView:
    return TaskView(
        id=1, job="inbox", job_id=1, path="a.txt", state=TaskState(state), run_id=None,
        size=None, bytes=0, percent=percent, speed_bps=None, eta_s=None, error=None,
        created_at="2025-06-02T09:00:00+00:00", seen_at="2025-06-02T09:00:00+00:00",
        started_at=None, finished_at=None, duration_s=None,
    )  # fmt: skip


def test_a_transfer_says_how_far_it_is() -> None:
    assert task_badge(task("transferring", 42)).word == "transferring 42 %"
    assert task_badge(task("failed")).tone == "bad"


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
