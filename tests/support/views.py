"""Job and run views made by hand, for the tests of what prints them."""

from __future__ import annotations

from typing import Any

from synchub.core.runs import RunState, RunStats, Trigger
from synchub.services.jobs.job_views import JobView, ScheduleView
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


def a_job(**fields: Any) -> JobView:
    """Job 1, photos: a weekday cron sync; `fields` change it."""
    base: dict[str, Any] = {
        "id": 1, "name": "photos", "kind": "rclone",
        "params": {"op": "sync", "source": "/srv/photos", "destination": "nas:photos"},
        "schedule": ScheduleView("cron", "30 2 * * 1-5", "UTC", None, None, "At 02:30"),
        "misfire": "skip", "queue": "default", "retries": 0, "retry_delay_s": 60,
        "timeout_s": None, "stale_after_s": None, "long_after_s": None, "overlap": "skip",
        "enabled": True, "tags": [], "watch": False, "keep_runs": None, "keep_logs": None,
        "windows": [], "windows_tz": None, "max_depth": None, "delete_guard": "50%",
        "require_marker": None, "check_access": None, "keep_deleted": None,
        "watch_problem": None, "muted_until": None, "hooks": {}, "after": [],
        "chained_by": [], "next_fire_at": "2026-12-07T02:30:00+00:00",
        "created_at": "2026-12-05T09:00:00+00:00", "updated_at": "2026-12-05T09:00:00+00:00",
    }  # fmt: skip
    return JobView(**(base | fields))
