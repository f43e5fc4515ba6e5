"""The data-safety settings and run flags over HTTP: delete_guard, require_marker,
dry_run and allow_deletes; bad input is a 422 that changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api, ok, problem
from tests.integration.engines.helpers import tree, write
from tests.support.harness import Harness


@pytest.fixture
def src(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    return tmp_path / "src"


@pytest.fixture
def dst(tmp_path: Path) -> Path:
    return tmp_path / "dst"


def new_job(api: Api, src: Path, dst: Path, **extra: Any) -> Any:
    body = {"name": "backup", "params": {"source": str(src), "destination": str(dst)}, **extra}
    return api.admin.post("/api/v1/jobs", json=body)


def test_a_job_has_a_delete_guard_of_half_unless_it_says_otherwise(
    api: Api, src: Path, dst: Path
) -> None:
    job = ok(new_job(api, src, dst), 201)
    assert job["delete_guard"] == "50%" and job["require_marker"] is None
    job = ok(api.admin.patch("/api/v1/jobs/backup", json={"delete_guard": 100}))
    assert job["delete_guard"] == "100"
    job = ok(api.admin.patch("/api/v1/jobs/backup", json={"require_marker": ".mounted"}))
    assert job["require_marker"] == ".mounted"


def test_a_bisync_job_checks_access_unless_it_says_otherwise(
    api: Api, src: Path, dst: Path
) -> None:
    assert ok(new_job(api, src, dst), 201)["check_access"] is None  # a sync has none
    body = {"name": "two-way", "params": {"op": "bisync", "source": str(src),
                                          "destination": str(dst)}}  # fmt: skip
    job = ok(api.admin.post("/api/v1/jobs", json=body), 201)
    assert job["check_access"] is True and job["params"]["check_access"] is True
    job = ok(api.admin.patch("/api/v1/jobs/two-way", json={"check_access": False}))
    assert job["check_access"] is False
    (event, *_) = ok(api.admin.get("/api/v1/audit", params={"action": "job.edit"}))["data"]
    assert event["before"]["check_access"] is True and event["after"]["check_access"] is False


@pytest.mark.parametrize("extra", [{"check_access": "yes"}, {"check_access": True}])
def test_an_access_check_on_a_sync_job_or_not_a_boolean_is_a_422(
    api: Api, src: Path, dst: Path, extra: dict[str, Any]
) -> None:
    problem(new_job(api, src, dst, **extra), 422)
    assert ok(api.viewer.get("/api/v1/jobs"))["data"] == []


@pytest.mark.parametrize(
    "extra",
    [
        {"delete_guard": "150%"},
        {"delete_guard": -1},
        {"delete_guard": "abc"},
        {"require_marker": "../x"},
        {"require_marker": "a/b"},
        {"delete_guard": True},
    ],
)
def test_bad_safety_settings_are_a_422_that_changes_nothing(
    api: Api, src: Path, dst: Path, extra: dict[str, Any]
) -> None:
    problem(new_job(api, src, dst, **extra), 422)
    assert ok(api.viewer.get("/api/v1/jobs"))["data"] == []
    ok(new_job(api, src, dst), 201)
    problem(api.admin.patch("/api/v1/jobs/backup", json=extra), 422)
    assert ok(api.viewer.get("/api/v1/jobs/backup"))["delete_guard"] == "50%"


def test_a_dry_run_on_demand_changes_nothing_and_says_so(
    api: Api, harness: Harness, src: Path, dst: Path
) -> None:
    write(src, {"a.txt": "a"})
    write(dst, {"old.txt": "old", "b.txt": "b"})
    ok(new_job(api, src, dst), 201)

    run = ok(api.operator.post("/api/v1/jobs/backup/run", json={"dry_run": True}), 202)
    assert run["dry_run"] is True
    harness.step()

    run = ok(api.viewer.get(f"/api/v1/runs/{run['id']}"))
    assert run["state"] == "succeeded" and run["dry_run"] is True
    assert tree(dst) == {"old.txt": "old", "b.txt": "b"}
    rows = ok(api.viewer.get(f"/api/v1/runs/{run['id']}/files"))["data"]
    assert {(r["path"], r["action"]) for r in rows} == {
        ("a.txt", "would_copy"), ("old.txt", "would_delete"), ("b.txt", "would_delete"),
    }  # fmt: skip


def test_allow_deletes_is_for_operators_and_is_audited(
    api: Api, harness: Harness, src: Path, dst: Path
) -> None:
    write(dst, {"old.txt": "old"})
    ok(new_job(api, src, dst), 201)
    body = {"allow_deletes": True}
    problem(api.viewer.post("/api/v1/jobs/backup/run", json=body), 403)

    run = ok(api.operator.post("/api/v1/jobs/backup/run", json=body), 202)
    harness.step()

    assert ok(api.viewer.get(f"/api/v1/runs/{run['id']}"))["state"] == "succeeded"
    assert tree(dst) == {}
    events = ok(api.admin.get("/api/v1/audit", params={"action": "run.allow_deletes"}))
    (event,) = events["data"]
    assert event["target"] == "backup" and event["after"] == {"run": run["id"]}


def test_an_empty_source_fails_the_run_and_shows_why(
    api: Api, harness: Harness, src: Path, dst: Path
) -> None:
    write(dst, {"precious.txt": "keep"})
    ok(new_job(api, src, dst), 201)
    run = ok(api.operator.post("/api/v1/jobs/backup/run"), 202)
    harness.step()
    run = ok(api.viewer.get(f"/api/v1/runs/{run['id']}"))
    assert run["state"] == "failed" and run["error"].startswith("empty source:")
    assert run["files_summary"] == {"would_delete": 1}
    assert tree(dst) == {"precious.txt": "keep"}


def test_dry_run_with_allow_deletes_is_a_422(api: Api, src: Path, dst: Path) -> None:
    ok(new_job(api, src, dst), 201)
    body = {"dry_run": True, "allow_deletes": True}
    problem(api.operator.post("/api/v1/jobs/backup/run", json=body), 422)
    assert ok(api.viewer.get("/api/v1/runs"))["data"] == []


def test_kept_versions_over_http_say_where_each_file_went_and_restore(
    api: Api, harness: Harness, src: Path, dst: Path
) -> None:
    write(src, {"a.txt": "a one", "b.txt": "b"})
    job = ok(new_job(api, src, dst, keep_deleted="720h", delete_guard="off"), 201)
    assert job["keep_deleted"] == "30d"
    ok(api.operator.post("/api/v1/jobs/backup/run"), 202)
    harness.step()
    (src / "a.txt").unlink()
    run = ok(api.operator.post("/api/v1/jobs/backup/run"), 202)
    harness.step()
    (row,) = ok(api.viewer.get(f"/api/v1/runs/{run['id']}/files"))["data"]
    assert row["action"] == "deleted" and row["kept_at"].endswith("-run2/a.txt")
    assert tree(dst) == {".synchub-trash/20250602T090000Z-run2/a.txt": "a one", "b.txt": "b"}
    # It should be for operators, refuse a path that matches nothing, then restore.
    url = f"/api/v1/runs/{run['id']}/restore"
    problem(api.viewer.post(url), 403)
    problem(api.operator.post(url, json={"path": "c.txt"}), 422)
    problem(api.operator.post("/api/v1/runs/1/restore"), 409)
    done = ok(api.operator.post(url, json={"path": "a.txt"}))
    assert done["restored"] == ["a.txt"] and done["errors"] == []
    assert tree(dst)["a.txt"] == "a one"
    events = ok(api.admin.get("/api/v1/audit", params={"action": "run.restore"}))["data"]
    assert [e["target"] for e in events] == [str(run["id"])]
    job = ok(api.admin.patch("/api/v1/jobs/backup", json={"keep_deleted": "off"}))
    assert job["keep_deleted"] is None


@pytest.mark.parametrize(
    "extra",
    [
        {"keep_deleted": "0s"},
        {"keep_deleted": "-1d"},
        {"keep_deleted": "abc"},
        {"keep_deleted": 30},
        {"keep_deleted": "30d", "params": {"op": "move"}},
    ],
)
def test_bad_keep_settings_are_a_422_that_changes_nothing(
    api: Api, src: Path, dst: Path, extra: dict[str, Any]
) -> None:
    body = {"name": "backup", "params": {"source": str(src), "destination": str(dst)}}
    bad = {**body, **extra, "params": {**body["params"], **extra.get("params", {})}}  # type: ignore[dict-item]
    problem(api.admin.post("/api/v1/jobs", json=bad), 422)
    assert ok(api.viewer.get("/api/v1/jobs"))["data"] == []
    ok(new_job(api, src, dst, keep_deleted="7d"), 201)
    problem(api.admin.patch("/api/v1/jobs/backup", json={k: v for k, v in bad.items()
                                                          if k != "name"}), 422)  # fmt: skip
    assert ok(api.viewer.get("/api/v1/jobs/backup"))["keep_deleted"] == "7d"
