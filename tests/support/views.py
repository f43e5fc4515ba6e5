"""Run views made by hand, for the tests of what prints them."""

from __future__ import annotations

from typing import Any

from synchub.core.runs import RunState, RunStats, Trigger
from synchub.services.run_views import RunView


def a_run(**fields: Any) -> RunView:
    """Run 7 of photos, running since 09:00:01 on 2026-12-06; `fields` change it."""
    base: dict[str, Any] = {
        "id": 7, "job": "photos", "job_deleted": False, "state": RunState.RUNNING,
        "celery_state": "STARTED", "trigger": Trigger.MANUAL, "reason": None,
        "scheduled_for": None, "created_at": "2026-12-06T09:00:00+00:00",
        "queued_at": None, "started_at": "2026-12-06T09:00:01+00:00", "finished_at": None,
        "heartbeat_at": None, "not_before": "2026-12-06T09:00:00+00:00", "attempt": 1,
        "retry_of": None, "chained_from": None, "queue": "default", "worker": "w1",
        "exit_code": None, "error_class": None, "error": None, "next_step": None,
        "stats": RunStats(), "progress": None, "log_dropped_lines": 0, "files_dropped": 0,
        "logs_pruned": False, "only_path": None, "dry_run": False, "allow_deletes": False,
        "resync": False, "files_summary": {},
    }  # fmt: skip
    changed = base | fields
    changed["state"], changed["trigger"] = RunState(changed["state"]), Trigger(changed["trigger"])
    return RunView(**changed)
