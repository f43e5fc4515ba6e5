"""/api/v1/jobs for watched folders: watch, max_depth and watch_problem."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import Api, ok, problem


def test_a_watched_job_is_defined_shown_and_edited(api: Api, tmp_path: Path) -> None:
    src = tmp_path / "inbox"
    body = {
        "name": "inbox",
        "params": {"source": str(src), "destination": str(tmp_path / "out")},
        "watch": True,
        "max_depth": 2,
    }
    job = ok(api.admin.post("/api/v1/jobs", json=body), 201)
    # It should copy, rescan every 10 minutes, and say the folder is not there yet.
    assert (job["watch"], job["max_depth"], job["params"]["op"]) == (True, 2, "copy")
    assert job["params"]["options"] == ["--max-depth=2"]
    assert job["schedule"]["every_s"] == 600
    assert job["watch_problem"] == f"source folder {src} does not exist"
    src.mkdir()
    assert ok(api.viewer.get("/api/v1/jobs/inbox"))["watch_problem"] is None
    listed = ok(api.viewer.get("/api/v1/jobs"))["data"]
    assert [(j["name"], j["watch"], j["watch_problem"]) for j in listed] == [("inbox", True, None)]
    job = ok(api.admin.patch("/api/v1/jobs/inbox", json={"watch": False, "max_depth": -1}))
    assert (job["watch"], job["max_depth"], job["watch_problem"]) == (False, None, None)


def test_bad_watch_fields_are_refused_and_change_nothing(api: Api, tmp_path: Path) -> None:
    base = {"name": "x", "params": {"source": str(tmp_path), "destination": "/tmp/out"}}
    problem(api.admin.post("/api/v1/jobs", json={**base, "watch": "yes"}), 422)
    problem(api.admin.post("/api/v1/jobs", json={**base, "max_depth": -5}), 422)
    scripted = {"name": "s", "kind": "scripted", "watch": True}
    assert "rclone" in problem(api.admin.post("/api/v1/jobs", json=scripted), 422)["detail"]
    assert ok(api.viewer.get("/api/v1/jobs"))["count"] == 0
