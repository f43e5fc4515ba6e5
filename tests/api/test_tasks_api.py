"""/api/v1/tasks: a watched folder's file tasks, listed, retried one file alone, deleted."""

from __future__ import annotations

from pathlib import Path

from synchub.services.jobs.fields import JobFields
from synchub.store import jobs as job_store
from synchub.store import tasks as task_store
from synchub.store.db import transaction
from tests.api.conftest import Api, ok, problem
from tests.support.harness import Harness


def seen(api: Api, job: str, *paths: str) -> None:
    """Record changes at `paths`, as the watcher does."""
    with transaction(api.svc.sessions) as session:
        row = job_store.get(session, job)
        assert row is not None
        task_store.seen(session, row.id, paths, api.clock.now())


def test_tasks_are_listed_retried_alone_and_deleted(
    api: Api, harness: Harness, tmp_path: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (src / name).write_text(name)
    params = {"source": str(src), "destination": str(dst)}
    api.svc.jobs.add("inbox", JobFields(params=params, watch=True))
    seen(api, "inbox", "a.txt", "b.txt", "c.txt")

    page = ok(api.viewer.get("/api/v1/tasks", params={"limit": 2}))
    assert (page["count"], page["total"]) == (2, 3)
    assert [t["path"] for t in page["data"]] == ["c.txt", "b.txt"]  # newest first
    rest = ok(api.viewer.get("/api/v1/tasks", params={"cursor": page["next_cursor"]}))
    assert [t["path"] for t in rest["data"]] == ["a.txt"] and rest["next_cursor"] is None
    a = rest["data"][0]
    assert (a["job"], a["state"], a["run_id"], a["bytes"]) == ("inbox", "pending", None, 0)

    # A retry sends that file alone: queued until its run, then done.
    queued = ok(api.operator.post(f"/api/v1/tasks/{a['id']}/retry"), 202)
    assert queued["state"] == "queued" and queued["run_id"] is not None
    assert "queued" in problem(api.operator.post(f"/api/v1/tasks/{a['id']}/retry"), 409)["detail"]
    problem(api.operator.delete(f"/api/v1/tasks/{a['id']}"), 409)
    run = ok(api.viewer.get(f"/api/v1/runs/{queued['run_id']}"))
    assert (run["only_path"], run["trigger"]) == ("a.txt", "api")
    harness.step()
    done = ok(api.viewer.get(f"/api/v1/tasks/{a['id']}"))
    assert (done["state"], done["size"], done["percent"]) == ("done", 5, 100)
    assert sorted(p.name for p in dst.iterdir()) == ["a.txt"]
    only_done = ok(api.viewer.get("/api/v1/tasks", params={"state": "done", "job": "inbox"}))
    assert [t["path"] for t in only_done["data"]] == ["a.txt"]

    assert api.operator.delete(f"/api/v1/tasks/{a['id']}").status_code == 204
    problem(api.viewer.get(f"/api/v1/tasks/{a['id']}"), 404)
    assert ok(api.viewer.get("/api/v1/tasks"))["total"] == 2


def test_bad_task_requests_are_refused(api: Api) -> None:
    problem(api.viewer.get("/api/v1/tasks", params={"state": "sent"}), 422)
    problem(api.viewer.get("/api/v1/tasks", params={"cursor": "nope"}), 422)
    problem(api.viewer.get("/api/v1/tasks/0"), 422)
    problem(api.operator.post("/api/v1/tasks/99/retry"), 404)
    problem(api.viewer.delete("/api/v1/tasks/99"), 403)
    assert ok(api.viewer.get("/api/v1/tasks", params={"job": "nobody"}))["total"] == 0
