"""/api/v1/runs: filters, keyset pages, show, cancel, retry, logs and change reports."""

from __future__ import annotations

import json

from synchub.core.clock import FakeClock
from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api, ok, problem
from tests.support.harness import Harness


def test_runs_are_paged_newest_first_with_a_cursor(api: Api, clock: FakeClock) -> None:
    api.svc.jobs.add("j", JobFields(kind="scripted"))
    ids = []
    for _ in range(7):
        ids.append(api.svc.runs.request("j"))
        clock.advance(1)
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = ok(api.viewer.get("/api/v1/runs", params=params))
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # It should not repeat or skip runs created while a client pages.
        api.svc.runs.request("j")
    assert seen == sorted(ids, reverse=True)


def test_runs_are_filtered_by_job_state_trigger_and_time(
    api: Api, harness: Harness, clock: FakeClock
) -> None:
    api.svc.jobs.add("ok", JobFields(kind="scripted"))
    api.svc.jobs.add("bad", JobFields(kind="scripted", params={"result": "fatal"}))
    first = api.svc.runs.request("ok")
    clock.advance(hours=1)
    failed = api.svc.runs.request("bad")
    harness.step()
    clock.advance(hours=1)
    (api_run,) = api.svc.runs.request_many(["ok"])

    def ids(**params: str) -> list[int]:
        return [r["id"] for r in ok(api.viewer.get("/api/v1/runs", params=params))["data"]]

    assert ids(job="bad") == [failed]
    assert ids(state="failed") == [failed]
    assert ids(state="succeeded,pending") == [api_run, first]
    assert ids(trigger="api") == [api_run]
    assert ids(trigger="manual") == [failed, first]
    assert ids(since="2025-06-02T09:30:00Z", until="2025-06-02T10:30:00Z") == [failed]
    assert ids(since="2025-06-02T11:30:00+02:00") == [api_run, failed]
    problem(api.viewer.get("/api/v1/runs", params={"job": "nope"}), 404)


def test_a_run_shows_both_state_names_stats_and_its_change_report(
    api: Api, harness: Harness
) -> None:
    api.svc.jobs.add("j", JobFields(kind="scripted"))
    run_id = api.svc.runs.request("j")
    harness.step()
    run = ok(api.viewer.get(f"/api/v1/runs/{run_id}"))
    assert (run["state"], run["celery_state"]) == ("succeeded", "SUCCESS")
    assert run["stats"]["bytes"] == 3 and run["stats"]["files"] == 1
    assert run["files_summary"] == {"copied": 1}
    files = ok(api.viewer.get(f"/api/v1/runs/{run_id}/files"))
    assert files["count"] == 1 and files["dropped"] == 0
    assert files["data"][0]["path"] == "a.txt" and files["data"][0]["action"] == "copied"
    problem(api.viewer.get("/api/v1/runs/999"), 404)
    problem(api.viewer.get("/api/v1/runs/999/files"), 404)


def test_the_log_is_served_in_ranges_as_text_or_json_lines(api: Api, harness: Harness) -> None:
    api.svc.jobs.add("j", JobFields(kind="scripted", params={"lines": 5}))
    run_id = api.svc.runs.request("j")
    harness.step()
    text = api.viewer.get(f"/api/v1/runs/{run_id}/log")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    lines = text.text.splitlines()
    assert "INFO" in lines[0] and "attempt 1 of j" in lines[0]
    assert "line 000004" in text.text
    last = int(text.headers["x-next-after"])

    page = api.viewer.get(
        f"/api/v1/runs/{run_id}/log", params={"after": 2, "limit": 2, "format": "jsonl"}
    )
    assert page.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in page.text.splitlines()]
    assert [r["seq"] for r in records] == [3, 4]
    assert page.headers["x-next-after"] == "4"
    assert {"seq", "at", "level", "message"} == records[0].keys()
    # It should answer an empty range after the last line, with the same position.
    end = api.viewer.get(f"/api/v1/runs/{run_id}/log", params={"after": last})
    assert end.text == "" and end.headers["x-next-after"] == str(last)
    problem(api.viewer.get("/api/v1/runs/999/log"), 404)
    problem(api.viewer.get(f"/api/v1/runs/{run_id}/log", params={"format": "xml"}), 422)


def test_cancel_and_retry_follow_the_state_rules(api: Api, harness: Harness) -> None:
    api.svc.jobs.add("j", JobFields(kind="scripted", retries=0, params={"result": "fatal"}))
    pending = ok(api.operator.post("/api/v1/jobs/j/run"), 202)["id"]
    cancelled = ok(api.operator.post(f"/api/v1/runs/{pending}/cancel"))
    assert (cancelled["state"], cancelled["celery_state"]) == ("cancelled", "REVOKED")
    assert cancelled["error"] == "cancelled by operator-olga"  # the token's name
    body = problem(api.operator.post(f"/api/v1/runs/{pending}/cancel"), 409)
    assert body["type"] == "urn:synchub:problem:invalid-transition"

    failed = api.svc.runs.request("j")
    problem(api.operator.post(f"/api/v1/runs/{failed}/retry"), 409)  # not ended yet
    harness.step()
    ended = ok(api.viewer.get(f"/api/v1/runs/{failed}"))
    assert ended["celery_state"] == "FAILURE" and ended["next_step"].startswith("not retried: ")
    retry = ok(api.operator.post(f"/api/v1/runs/{failed}/retry"), 202)
    assert (retry["trigger"], retry["attempt"], retry["retry_of"]) == ("retry", 2, failed)
    # It should show the failed attempt as RETRY once its next attempt exists.
    assert ok(api.viewer.get(f"/api/v1/runs/{failed}"))["celery_state"] == "RETRY"
