"""/api/v1/jobs: define, filter, show with next fires, edit, enable, run, delete."""

from __future__ import annotations

from typing import Any

from synchub.core.clock import FakeClock
from synchub.core.runs import RunState
from synchub.store import runs as run_store
from synchub.store.db import transaction
from synchub.store.runs import Claim
from tests.api.conftest import Api, ok, problem
from tests.support.harness import Harness


def add(api: Api, name: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "kind": "scripted", **fields}
    result: dict[str, Any] = ok(api.admin.post("/api/v1/jobs", json=body), 201)
    return result


def test_a_job_is_shown_with_its_description_and_next_five_fires(api: Api) -> None:
    # 2025-06-02 09:00 UTC is 11:00 in Berlin (CEST, UTC+2).
    job = add(api, "nightly", cron="30 2 * * *", tz="Europe/Berlin", tags=["photos"])
    assert job["schedule"]["description"] == "At 02:30 every day (Europe/Berlin)"
    assert job["next_fires"] == [
        "2025-06-03T00:30:00Z",
        "2025-06-04T00:30:00Z",
        "2025-06-05T00:30:00Z",
        "2025-06-06T00:30:00Z",
        "2025-06-07T00:30:00Z",
    ]
    assert ok(api.viewer.get("/api/v1/jobs/nightly")) == job
    # It should record who defined it.
    event = ok(api.viewer.get("/api/v1/audit", params={"target": "nightly"}))["data"][0]
    assert (event["action"], event["actor"]) == ("job.add", "admin-ada")


def test_jobs_are_filtered_by_tag_enabled_queue_remote_and_name(api: Api) -> None:
    api.svc.remotes.add("nas", "local", {})
    add(api, "photos-daily", tags=["photos"], queue="slow")
    add(api, "photos-weekly", tags=["photos"], enabled=False)
    add(api, "docs", params={"remotes": ["nas"]})

    def names(**params: Any) -> list[str]:
        return [j["name"] for j in ok(api.viewer.get("/api/v1/jobs", params=params))["data"]]

    assert names() == ["docs", "photos-daily", "photos-weekly"]
    assert names(tag="photos") == ["photos-daily", "photos-weekly"]
    assert names(tag="photos", enabled="true") == ["photos-daily"]
    assert names(enabled="false") == ["photos-weekly"]
    assert names(queue="slow") == ["photos-daily"]
    assert names(remote="nas") == ["docs"]
    assert names(remote="nowhere") == []
    assert names(search="WEEK") == ["photos-weekly"]


def test_an_edit_recomputes_the_next_fire_from_now(api: Api, clock: FakeClock) -> None:
    add(api, "j", every="1h")
    clock.advance(minutes=20)
    job = ok(api.admin.patch("/api/v1/jobs/j", json={"cron": "*/15 * * * *", "tz": "UTC"}))
    assert job["next_fire_at"] == "2025-06-02T09:30:00Z"
    assert job["schedule"]["kind"] == "cron"
    job = ok(api.admin.patch("/api/v1/jobs/j", json={"retries": 0, "params": {"result": "fail"}}))
    assert job["schedule"]["cron"] == "*/15 * * * *" and job["retries"] == 0
    assert job["params"]["result"] == "fail"
    job = ok(api.admin.patch("/api/v1/jobs/j", json={"manual": True}))
    assert job["schedule"]["kind"] == "none" and job["next_fires"] == []
    assert job["next_fire_at"] is None
    # It should change nothing on a bad edit.
    problem(api.admin.patch("/api/v1/jobs/j", json={"every": "0s"}), 422)
    problem(
        api.admin.patch("/api/v1/jobs/j", json={"tz": "Mars/Olympus", "cron": "0 2 * * *"}), 422
    )
    problem(api.admin.patch("/api/v1/jobs/j", json={"overlap": "sometimes"}), 422)
    problem(api.admin.patch("/api/v1/jobs/nope", json={"retries": 1}), 404)
    assert ok(api.viewer.get("/api/v1/jobs/j")) == job


def test_enable_and_disable_count_from_now(api: Api, clock: FakeClock) -> None:
    add(api, "j", every="1h")
    job = ok(api.operator.post("/api/v1/jobs/j/disable"))
    assert job["enabled"] is False and job["next_fire_at"] is None
    clock.advance(hours=5)
    job = ok(api.operator.post("/api/v1/jobs/j/enable"))
    assert job["enabled"] is True and job["next_fire_at"] == "2025-06-02T15:00:00Z"
    actions = [
        e["action"] for e in ok(api.viewer.get("/api/v1/audit", params={"action": "job"}))["data"]
    ]
    assert actions == ["job.enable", "job.disable", "job.add"]


def test_running_a_job_answers_202_with_the_pending_run(api: Api) -> None:
    add(api, "j", queue="fast")
    run = ok(api.operator.post("/api/v1/jobs/j/run"), 202)
    assert (run["job"], run["state"], run["celery_state"]) == ("j", "pending", "PENDING")
    assert run["trigger"] == "api" and run["queue"] == "fast"
    other = ok(api.operator.post("/api/v1/jobs/j/run", json={"queue": "slow"}), 202)
    assert other["queue"] == "slow"
    problem(api.operator.post("/api/v1/jobs/nope/run"), 404)
    problem(api.operator.post("/api/v1/jobs/j/run", json={"queue": "bad queue"}), 422)
    runs = ok(api.viewer.get("/api/v1/jobs/j/runs"))
    assert [r["id"] for r in runs["data"]] == [other["id"], run["id"]]


def test_several_jobs_run_at_once_by_names_or_tag(api: Api) -> None:
    add(api, "a", tags=["nightly"])
    add(api, "b", tags=["nightly"])
    add(api, "c", tags=["nightly"], enabled=False)
    add(api, "d")
    made = ok(api.operator.post("/api/v1/jobs/run", json={"names": ["d", "a", "d"]}), 202)
    assert [r["job"] for r in made["data"]] == ["d", "a"]  # each job once
    made = ok(api.operator.post("/api/v1/jobs/run", json={"tag": "nightly", "queue": "q2"}), 202)
    assert [r["job"] for r in made["data"]] == ["a", "b"]
    assert {r["queue"] for r in made["data"]} == {"q2"}
    made = ok(
        api.operator.post("/api/v1/jobs/run", json={"tag": "nightly", "only_enabled": False}), 202
    )
    assert [r["job"] for r in made["data"]] == ["a", "b", "c"]
    # It should create nothing when one name is unknown.
    count = ok(api.viewer.get("/api/v1/runs"))["count"]
    problem(api.operator.post("/api/v1/jobs/run", json={"names": ["a", "zz"]}), 404)
    assert ok(api.viewer.get("/api/v1/runs"))["count"] == count


def test_deleting_a_job_removes_its_history_by_default(api: Api, harness: Harness) -> None:
    add(api, "j")
    done = ok(api.operator.post("/api/v1/jobs/j/run"), 202)["id"]
    harness.step()
    ok(api.operator.post("/api/v1/jobs/j/run"), 202)
    assert api.admin.delete("/api/v1/jobs/j").status_code == 204
    assert ok(api.viewer.get("/api/v1/runs"))["count"] == 0
    problem(api.viewer.get("/api/v1/jobs/j"), 404)
    problem(api.viewer.get(f"/api/v1/runs/{done}"), 404)
    problem(api.viewer.get("/api/v1/runs", params={"job": "j"}), 404)
    event = ok(api.viewer.get("/api/v1/audit", params={"action": "job.remove"}))["data"][0]
    assert event["actor"] == "admin-ada" and event["before"]["name"] == "j"
    assert event["after"]["keep_history"] is False and event["after"]["runs_deleted"] == 2


def test_deleting_a_job_can_keep_its_history_to_read_but_not_retry(
    api: Api, harness: Harness
) -> None:
    add(api, "j", params={"result": "fail"}, retries=0)
    failed = ok(api.operator.post("/api/v1/jobs/j/run"), 202)["id"]
    harness.step()
    waiting = ok(api.operator.post("/api/v1/jobs/j/run"), 202)["id"]

    gone = api.admin.delete("/api/v1/jobs/j", params={"keep_history": "true"})

    assert gone.status_code == 204
    problem(api.viewer.get("/api/v1/jobs/j"), 404)
    # It should list and show the kept runs under the job's name, by that name too.
    runs = ok(api.viewer.get("/api/v1/runs", params={"job": "j"}))["data"]
    assert [(r["id"], r["job"], r["job_deleted"]) for r in runs] == [
        (waiting, "j", True),
        (failed, "j", True),
    ]
    assert ok(api.viewer.get("/api/v1/jobs/j/runs"))["data"] == runs
    run = ok(api.viewer.get(f"/api/v1/runs/{failed}"))
    assert (run["state"], run["celery_state"]) == ("failed", "FAILURE")
    # It should have cancelled the run that was waiting.
    cancelled = ok(api.viewer.get(f"/api/v1/runs/{waiting}"))
    assert (cancelled["state"], cancelled["reason"]) == ("cancelled", "job_deleted")
    # It should serve the log and the change report as before.
    assert "attempt 1 of j" in api.viewer.get(f"/api/v1/runs/{failed}/log").text
    assert ok(api.viewer.get(f"/api/v1/runs/{failed}/files"))["count"] == 1
    # It should refuse a retry, saying why.
    body = problem(api.operator.post(f"/api/v1/runs/{failed}/retry"), 409)
    assert body["type"] == "urn:synchub:problem:job-deleted"
    assert "'j' was deleted" in body["detail"]
    event = ok(api.viewer.get("/api/v1/audit", params={"action": "job.remove"}))["data"][0]
    assert event["after"] == {
        "keep_history": True,
        "runs_cancelled": [waiting],
        "runs_kept": 2,
        "runs_deleted": 0,
    }


def test_a_job_is_not_deleted_while_one_of_its_runs_runs(api: Api) -> None:
    add(api, "j")
    run_id = api.svc.runs.request("j")
    with transaction(api.svc.sessions) as session:
        run_store.move(session, run_id, RunState.QUEUED, expected=[RunState.PENDING])
        assert run_store.claim(session, run_id, worker="w", now=api.clock.now()) is Claim.CLAIMED
    for params in ({}, {"keep_history": "true"}):
        body = problem(api.admin.delete("/api/v1/jobs/j", params=params), 409)
        assert body["type"] == "urn:synchub:problem:job-running"
        assert f"run {run_id}" in body["detail"] and "cancel it" in body["detail"]
    assert ok(api.viewer.get("/api/v1/jobs/j"))["name"] == "j"
    assert ok(api.viewer.get(f"/api/v1/runs/{run_id}"))["state"] == "running"
