"""The Celery-scheduler endpoints, driven with the seed systems' own requests
(their docs: `curl -X POST .../validate-cron -H 'Content-Type: application/json'
-d '"0 2 * * *"'`), answering in their {"code", "msg", "data"} envelope."""

from __future__ import annotations

from typing import Any

import httpx

from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api
from tests.support.harness import Harness

BASE = "/api/v1/task/scheduler"
JSON = {"Content-Type": "application/json"}


def data(response: httpx.Response, status: int = 200) -> Any:
    """The envelope's data, checking the envelope."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body.keys() == {"code", "msg", "data"} and body["code"] == status
    return body["data"]


def test_validate_cron_takes_a_bare_json_string(api: Api) -> None:
    answer = data(api.viewer.post(f"{BASE}/validate-cron", content='"0 2 * * *"', headers=JSON))
    # 09:00 UTC is 11:00 in Berlin (the default zone here); 02:00 Berlin is 15 hours away.
    assert answer["valid"] is True
    assert answer["next_run_in_seconds"] == 15 * 3600
    assert answer["message"]
    for bad in ('"0 2 * *"', '"invalid cron"', '"61 * * * *"', '""'):
        answer = data(api.viewer.post(f"{BASE}/validate-cron", content=bad, headers=JSON))
        assert answer["valid"] is False and answer["error"], bad


def test_execute_sync_accepts_the_id_or_the_name_and_task_result_follows_it(
    api: Api, harness: Harness
) -> None:
    job = api.svc.jobs.add("photos", JobFields(kind="scripted"))
    submitted = data(api.operator.post(f"{BASE}/execute-sync/{job.id}"))
    assert submitted["status"] == "submitted" and submitted["config_id"] == job.id
    task_id = submitted["task_id"]
    result = data(api.viewer.get(f"{BASE}/task-result/{task_id}"))
    assert result == {
        "task_id": task_id,
        "status": "PENDING",
        "ready": False,
        "successful": None,
        "failed": None,
        "result": None,
        "traceback": None,
    }
    harness.step()
    result = data(api.viewer.get(f"{BASE}/task-result/{task_id}"))
    assert (result["status"], result["ready"], result["successful"]) == ("SUCCESS", True, True)
    assert result["result"]["stats"]["files"] == 1 and result["traceback"] is None
    by_name = data(api.operator.post(f"{BASE}/execute-sync/photos"))
    assert by_name["config_id"] == job.id and by_name["task_id"] != task_id

    # It should report a failed task as FAILURE, with its error as the traceback.
    api.svc.jobs.add("bad", JobFields(kind="scripted", params={"result": "fatal"}))
    failed_id = data(api.operator.post(f"{BASE}/execute-sync/bad"))["task_id"]
    harness.step()
    result = data(api.viewer.get(f"{BASE}/task-result/{failed_id}"))
    assert (result["status"], result["failed"], result["successful"]) == ("FAILURE", True, False)
    assert result["traceback"] == "no"


def test_status_refresh_execute_all_and_clear(api: Api) -> None:
    daily = api.svc.jobs.add("daily", JobFields(kind="scripted", cron="0 2 * * *"))
    api.svc.jobs.add("manual", JobFields(kind="scripted"))
    api.svc.jobs.add("off", JobFields(kind="scripted", every="1h", enabled=False))

    status = data(api.viewer.get(f"{BASE}/task-status"))
    assert status["scheduled_config_ids"] == [daily.id]
    assert status["total_scheduled_tasks"] == 1 and status["task_names"] == ["daily"]
    assert status["next_runs"] == {str(daily.id): "2025-06-03T00:00:00Z"}

    refreshed = data(api.operator.post(f"{BASE}/refresh-tasks"))
    assert refreshed["success"] is True
    assert (refreshed["total_configs"], refreshed["added_count"]) == (3, 1)
    assert refreshed["active_tasks"] == [daily.id]

    submitted = data(api.operator.post(f"{BASE}/execute-all-enabled"))
    assert submitted["status"] == "submitted" and submitted["count"] == 2  # daily, manual
    for task_id in submitted["task_ids"]:
        assert data(api.viewer.get(f"{BASE}/task-result/{task_id}"))["status"] == "PENDING"

    cleared = data(api.operator.request("DELETE", f"{BASE}/clear-tasks"))
    assert cleared["status"] == "cleared" and cleared["cleared_count"] == 2
    assert data(api.viewer.get(f"{BASE}/task-status"))["scheduled_config_ids"] == []
    # It should record each disabled job in the audit log, with who cleared them.
    actions = {(e.actor, e.action, e.target) for e in _audit(api)}
    assert ("operator-olga", "job.disable", "daily") in actions


def _audit(api: Api) -> list[Any]:
    from synchub.store import audit
    from synchub.store.db import transaction

    with transaction(api.svc.sessions) as session:
        return audit.recent(session)


def test_errors_keep_their_status_inside_the_envelope(api: Api) -> None:
    for method, path, status in (
        ("POST", f"{BASE}/execute-sync/404", 404),
        ("POST", f"{BASE}/execute-sync/nope", 404),
        ("GET", f"{BASE}/task-result/12345", 404),
        ("GET", f"{BASE}/task-result/not-a-task", 404),
        ("GET", f"{BASE}/task-result/99999999999999999999999999", 404),
    ):
        response = api.operator.request(method, path)
        body = response.json()
        assert response.status_code == status and body["code"] == status, path
        assert body["data"] is None and body["msg"]
    response = api.viewer.post(f"{BASE}/validate-cron", content="5", headers=JSON)
    body = response.json()
    assert response.status_code == 422 and body["code"] == 422
    assert body["data"]["errors"][0]["field"] == "body"
    denied = api.viewer.post(f"{BASE}/execute-all-enabled")
    assert denied.status_code == 403 and denied.json()["code"] == 403
    anonymous = api.anonymous.get(f"{BASE}/task-status")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == 401


def test_the_compat_responses_are_documented_in_openapi(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]
    for path, method in (
        ("refresh-tasks", "post"),
        ("task-status", "get"),
        ("validate-cron", "post"),
        ("clear-tasks", "delete"),
        ("execute-sync/{config_id}", "post"),
        ("execute-all-enabled", "post"),
        ("task-result/{task_id}", "get"),
    ):
        operation = paths[f"{BASE}/{path}"][method]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].startswith("#/components/schemas/Envelope"), path
