"""A run's log and error, as viewers read them (the run, its log, the Celery-scheduler
task result), never show a secret the run was given: a command job's environment
values, a remote's secret options. Real commands, real rclone, both databases."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from synchub.config import Settings
from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api, ok
from tests.support.harness import Harness

TASKS = "/api/v1/task/scheduler"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_command_jobs": True})


def seen_by_viewers(api: Api, run_id: int) -> tuple[dict[str, object], str, str]:
    """The run, its log as text, and its Celery task result."""
    run = ok(api.viewer.get(f"/api/v1/runs/{run_id}"))
    log = api.viewer.get(f"/api/v1/runs/{run_id}/log").text
    result = ok(api.viewer.get(f"{TASKS}/task-result/{run_id}"))["data"]
    return run, log, json.dumps(result)


def test_a_command_jobs_environment_values_are_scrubbed_from_its_log_and_error(
    api: Api, harness: Harness
) -> None:
    """On main the run's `error` and the task result's traceback read
    "fail: ENVSECRET4242", and its log showed it too."""
    script = (
        "import os, sys; "
        "print('token', os.environ['TOKEN'], 'mode', os.environ['MODE']); "
        "sys.stderr.write('fail: ' + os.environ['TOKEN'] + '\\n'); sys.exit(1)"
    )
    api.svc.jobs.add("leaky", JobFields(kind="command", retries=0, params={
        "argv": [sys.executable, "-c", script],
        "env": {"TOKEN": "ENVSECRET4242", "MODE": "full"},
    }))  # fmt: skip
    run_id = ok(api.operator.post(f"{TASKS}/execute-sync/leaky"))["data"]["task_id"]
    harness.step()

    run, log, result = seen_by_viewers(api, int(run_id))
    assert run["state"] == "failed"
    assert run["error"] == "fail: ***"
    assert "ENVSECRET4242" not in json.dumps(run) + log + result
    assert '"traceback": "fail: ***"' in result
    # It should leave values too short to be credentials alone, not mangle the log.
    assert "token *** mode full" in log


def test_an_rclone_runs_remote_secrets_are_scrubbed_from_its_log_and_error(
    api: Api, harness: Harness, tmp_path: Path
) -> None:
    password = "vault-password-Hq38z"
    api.svc.remotes.add("vault", "crypt", {"remote": str(tmp_path / "store"), "password": password})
    # rclone names the missing source in its error, and the path holds the password.
    missing = tmp_path / password / "missing"
    api.svc.jobs.add("up", JobFields(retries=0, params={
        "op": "copy", "source": str(missing), "destination": "vault:",
    }))  # fmt: skip
    run_id = ok(api.operator.post(f"{TASKS}/execute-sync/up"))["data"]["task_id"]
    harness.step()

    run, log, result = seen_by_viewers(api, int(run_id))
    assert run["state"] == "failed" and run["error_class"] == "not_found"
    assert "***/missing" in log
    assert password not in json.dumps(run) + log + result
