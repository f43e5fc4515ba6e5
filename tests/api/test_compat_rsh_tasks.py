"""The rclone-sync-hub console's calls for its dashboard, folders and tasks, replayed as
it sends them (paths, trailing slashes, query strings, bodies) against the real server,
with a real watched folder, the real watcher, real rclone and a real WebDAV remote
on loopback. Every field the console reads is checked."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from synchub.scheduler.watch import FolderWatch
from synchub.services.jobs.fields import JobFields
from synchub.store import tasks as task_store
from synchub.store.db import transaction
from tests.api.conftest import Api, ok
from tests.integration.engines.helpers import PASSWORD, USER, Server, serve
from tests.integration.test_watched_folders import SETTLE, full_pass, wait_for
from tests.support.harness import Harness

#: What the console sends as `query` when no filter is set.
EMPTY = "{}"
#: A file time well in the past (seconds since the epoch).
LONG_AGO = 1_600_000_000


@pytest.fixture(scope="module")
def dav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("dav")
    yield from serve(
        "webdav", base / "root", ["--user", USER, "--pass", PASSWORD], base / "serve.log"
    )


#: The value the console's client-side login stores and sends with every request.
CONSOLE_TOKEN = "mock-token-123456"


@pytest.fixture
def dest(dav: Server, tmp_path: Path) -> Path:
    """Where the test's `dav` remote keeps its files: a directory of its own on the
    module's server. Both variants of a test (SQLite, PostgreSQL) send the same files
    to the same paths; in a shared one, the second would find them there already, as
    new as its own within rclone's one-second window, and send nothing."""
    # Made through the server, whose listings the files on its disk may be ahead of.
    made = httpx.request(
        "MKCOL", f"http://127.0.0.1:{dav.port}/{tmp_path.name}", auth=(USER, PASSWORD)
    )
    assert made.status_code == 201, made.text
    return dav.root / tmp_path.name


@pytest.fixture
def console(api: Api, dav: Server, dest: Path, tmp_path: Path) -> Iterator[httpx.Client]:
    """The console's client: its API_URL, its fixed token made as the docs say (an
    operator's, limited to /compat/rsh), `tmp_path` the browse root. The `dav` remote
    is defined, over `dest`."""
    options = {"url": f"http://127.0.0.1:{dav.port}/{dest.name}", "vendor": "rclone",
               "user": USER, "pass": PASSWORD}  # fmt: skip
    api.svc.remotes.add("dav", "webdav", options)
    api.svc.settings.browse_roots = [tmp_path]
    api.svc.tokens.create("rsh-console", "operator", value=CONSOLE_TOKEN, scope="compat-rsh")
    client = api.client(CONSOLE_TOKEN)
    yield client
    client.close()


@pytest.fixture
def watching(api: Api, harness: Harness) -> Iterator[FolderWatch]:
    """The scheduler's watched folders, with the real watcher thread."""
    watch = FolderWatch(api.svc.sessions, api.clock, SETTLE)
    harness.scheduler.watch = watch
    yield watch
    watch.stop()


def folders(client: httpx.Client, query: str = EMPTY) -> dict[str, Any]:
    return ok(
        client.get("/compat/rsh/folders/", params={"query": query, "page": 1, "per_page": 10})
    )


def tasks(client: httpx.Client, query: dict[str, Any], per_page: int = 10) -> dict[str, Any]:
    params = {"query": json.dumps(query), "page": 1, "per_page": per_page}
    return ok(client.get("/compat/rsh/tasks/", params=params))


def iso(value: str | None) -> datetime:
    assert value is not None
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no zone"
    return parsed


def test_a_local_folder_from_creation_to_uploaded_files(
    api: Api, console: httpx.Client, harness: Harness, watching: FolderWatch,
    tmp_path: Path, dest: Path,
) -> None:  # fmt: skip
    src = tmp_path / "photos"
    src.mkdir()
    body = {"syncType": "local", "name": "photos", "origin": "dav",
            "remotePath": "/backup/photos", "maxDepth": 10, "localPath": str(src),
            "originPath": "None"}  # fmt: skip
    assert console.post("/compat/rsh/folders/", json=body).status_code == 201
    again = console.post("/compat/rsh/folders/", json=body)
    assert again.status_code == 409 and "photos" in again.json()["message"]

    listed = folders(console)
    assert (listed["total_items"], listed["page"], listed["per_page"]) == (1, 1, 10)
    (folder,) = listed["items"]
    assert folder["_id"] == folder["id"]
    assert {k: folder[k] for k in ("name", "syncType", "localPath", "originPath", "origin",
                                   "remotePath", "uploadNum", "status")} == {
        "name": "photos", "syncType": "local", "localPath": str(src), "originPath": "None",
        "origin": "dav", "remotePath": "/backup/photos", "uploadNum": 0, "status": 2,
    }  # fmt: skip
    iso(folder["created_at"])
    assert folder["lastSyncAt"] is None
    # A folder made here is a watched job of the REST API.
    assert console.get("/api/v1/jobs/photos").status_code == 403  # its scope
    job = ok(api.viewer.get("/api/v1/jobs/photos"))
    assert (job["watch"], job["max_depth"], job["params"]["destination"]) == (
        True, 10, "dav:/backup/photos",
    )  # fmt: skip

    # Files dropped in: the watcher sees them; each is a task, status 0.
    full_pass(harness)
    assert watching.watcher.alive
    names = ["a.jpg", "b.jpg", "sub/c.jpg"]

    def seen_all() -> bool:
        for name in names:
            (src / name).parent.mkdir(exist_ok=True)
            (src / name).write_bytes(name.encode() * 100)
        time.sleep(0.1)
        return tasks(console, {"status": 0})["total_items"] == 3

    wait_for(seen_all, "the watcher to report the three files")
    info = ok(console.get("/compat/rsh/info/"))
    assert (info["folders"], info["uploaded"], info["toBeUploaded"], info["success"]) == (
        1, 0, 3, 0,
    )  # fmt: skip
    assert [d["add"] for d in info["final_result"]][-1] == 3

    api.clock.advance(SETTLE)
    (run_id,) = full_pass(harness)
    assert api.svc.runs.show(run_id).state == "succeeded"
    assert (dest / "backup" / "photos" / "sub" / "c.jpg").read_bytes() == b"sub/c.jpg" * 100

    done = tasks(console, {"status": 3})
    assert done["total_items"] == 3
    by_name = {t["fileName"]: t for t in done["items"]}
    c = by_name["sub/c.jpg"]
    assert c["_id"] and c["name"] == "photos" and c["status"] == 3
    assert c["localPath"] == f"{src}/sub/c.jpg"
    assert (c["origin"], c["remotePath"]) == ("dav", "/backup/photos/sub")
    assert (c["progress"], c["total"]) == ("100%", "900 B")
    assert iso(c["startedAt"]) <= iso(c["finishedAt"])
    iso(c["created_at"])
    assert c["duration"].endswith("s") and c["speed"] == ""
    assert c["logs"].startswith("done (run ") and len(c["logs"]) < 2000
    regex = tasks(console, {"fileName": {"$regex": "^sub/"}, "name": {"$regex": "pho"}})
    assert [t["fileName"] for t in regex["items"]] == ["sub/c.jpg"]
    assert tasks(console, {"status": 4})["total_items"] == 0

    info = ok(console.get("/compat/rsh/info/"))
    assert (info["uploaded"], info["toBeUploaded"], info["success"]) == (0, 0, 3)
    assert len(info["final_result"]) == 7
    today = info["final_result"][-1]
    assert (today["add"], today["success"]) == (3, 3)
    assert {e["name"] for e in info["logs"]} == {"photos"} and len(info["logs"]) == 3
    assert all(e["_id"] and e["description"].startswith("sent ") for e in info["logs"])
    (folder,) = folders(console)["items"]
    assert folder["uploadNum"] == 3
    iso(folder["lastSyncAt"])

    # Retry: the whole row back with status 0 and logs ''; the file goes alone.
    row = {**c, "status": 0, "logs": "", "fileName": "../../etc/passwd", "name": "x"}
    retried = ok(console.put(f"/compat/rsh/tasks/{c['_id']}", json=row))
    assert (retried["_id"], retried["fileName"], retried["status"]) == (c["_id"], "sub/c.jpg", 1)
    busy = console.put(f"/compat/rsh/tasks/{c['_id']}", json=row)
    assert busy.status_code == 409 and "queued" in busy.json()["message"]
    busy = console.delete(f"/compat/rsh/tasks/{c['_id']}")
    assert busy.status_code == 409
    (one,) = full_pass(harness)
    assert api.svc.runs.show(one).only_path == "sub/c.jpg"
    assert tasks(console, {"status": 3})["total_items"] == 3

    # Delete a task (several at once, as the console's batch delete does).
    for t in done["items"][:2]:
        assert console.delete(f"/compat/rsh/tasks/{t['_id']}").status_code == 200
    assert tasks(console, {})["total_items"] == 1
    assert console.delete("/compat/rsh/tasks/999999").status_code == 404

    # Delete the folder: its job goes (its runs stay as history), and the audit says so.
    assert console.delete(f"/compat/rsh/folders/{folder['_id']}").status_code == 200
    assert folders(console)["total_items"] == 0
    assert api.viewer.get("/api/v1/jobs/photos").status_code == 404
    assert api.svc.runs.show(run_id).job_deleted is True
    events = api.svc.audit.page(target="photos")
    assert [e.action for e in events] == ["job.remove", "job.add"]
    assert {e.actor for e in events} == {"rsh-console"}


def test_a_remote_folder_and_a_rest_made_job_are_both_folders(
    api: Api, console: httpx.Client, tmp_path: Path
) -> None:
    far = tmp_path / "far"
    far.mkdir()
    api.svc.remotes.add("disk", "alias", {"remote": str(far)})
    body = {"syncType": "remote", "name": "mirror", "origin": "dav", "remotePath": "m",
            "maxDepth": 10, "localPath": "None", "originPath": "disk:/sub"}  # fmt: skip
    # It should leave a remote source, which reaches beyond the browse roots, to admins.
    refused = console.post("/compat/rsh/folders/", json=body)
    assert refused.status_code == 403 and "admin" in refused.json()["message"]
    assert api.admin.post("/compat/rsh/folders/", json=body).status_code == 201
    api.svc.jobs.add(
        "rest-made", JobFields(params={"source": str(far), "destination": "dav:r"}, watch=True)
    )
    api.svc.jobs.add("not-watched", JobFields(params={"source": str(far), "destination": "dav:"}))
    items = {f["name"]: f for f in folders(console)["items"]}
    assert set(items) == {"mirror", "rest-made"}
    assert (items["mirror"]["syncType"], items["mirror"]["originPath"]) == ("remote", "disk:/sub")
    assert (items["mirror"]["localPath"], items["mirror"]["remotePath"]) == ("None", "m")
    assert (items["rest-made"]["syncType"], items["rest-made"]["localPath"]) == ("local", str(far))
    only = folders(console, json.dumps({"name": {"$regex": "^mir"}}))
    assert [f["name"] for f in only["items"]] == ["mirror"]


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        ("/compat/rsh/tasks/", {"query": '{"status": {"$where": "1"}}'}, "$regex"),
        ("/compat/rsh/tasks/", {"query": '{"owner": "x"}'}, "not allowed"),
        ("/compat/rsh/tasks/", {"query": "__import__('os')"}, "JSON object"),
        ("/compat/rsh/tasks/", {"query": '{"status": 9}'}, "status must be"),
        ("/compat/rsh/tasks/", {"query": '{"fileName": {"$regex": "("}}'}, "not a valid"),
        ("/compat/rsh/folders/", {"query": '{"$where": "sleep(10)"}'}, "not allowed"),
    ],
)
def test_a_bad_query_is_a_400_with_a_message(
    console: httpx.Client, path: str, params: dict[str, str], needle: str
) -> None:
    response = console.get(path, params=params)
    assert response.status_code == 400
    assert needle in response.json()["message"]


def test_bad_folder_bodies_and_retries_change_nothing(
    api: Api, console: httpx.Client, tmp_path: Path
) -> None:
    base = {"syncType": "local", "name": "x", "origin": "dav", "remotePath": "/x",
            "maxDepth": 10, "localPath": str(tmp_path), "originPath": "None"}  # fmt: skip
    for bad in (
        {**base, "syncType": "ftp"},
        {**base, "localPath": "None"},
        {**base, "name": "bad name!"},
        {**base, "origin": "nowhere"},
        {**base, "localPath": "relative/path"},
    ):
        response = console.post("/compat/rsh/folders/", json=bad)
        assert 400 <= response.status_code < 500, bad
        assert response.json()["message"], bad
    assert folders(console)["total_items"] == 0
    assert console.put("/compat/rsh/tasks/1", json={"status": 3}).status_code == 400
    assert console.put("/compat/rsh/tasks/abc", json={"status": 0}).status_code == 404
    assert console.delete("/compat/rsh/folders/12345").status_code == 404


def add_folder(console: httpx.Client, name: str, path: Path) -> dict[str, Any]:
    body = {"syncType": "local", "name": name, "origin": "dav", "remotePath": f"/{name}",
            "maxDepth": 0, "localPath": str(path), "originPath": "None"}  # fmt: skip
    made: dict[str, Any] = ok(console.post("/compat/rsh/folders/", json=body), 201)
    return made


def test_a_new_folder_uploads_what_is_there_at_once_and_uploaded_never_goes_down(
    api: Api, console: httpx.Client, harness: Harness, watching: FolderWatch,
    tmp_path: Path, dest: Path,
) -> None:  # fmt: skip
    src = tmp_path / "scans"
    src.mkdir()
    (src / "one.pdf").write_bytes(b"1" * 100)
    (src / "two.pdf").write_bytes(b"2" * 200)
    # Made long before the folder: were they at the destination already (a shared
    # one), rclone would send nothing however fast the test ran, not now and then.
    for old in src.iterdir():
        os.utime(old, (LONG_AGO, LONG_AGO))
    add_folder(console, "scans", src)
    # It should send the files already there on the next pass: no change was seen,
    # and no clock advanced to a settle time or the rescan.
    (run_id,) = full_pass(harness)
    assert api.svc.runs.show(run_id).state == "succeeded"
    assert (dest / "scans" / "two.pdf").read_bytes() == b"2" * 200
    (folder,) = folders(console)["items"]
    assert (folder["uploadNum"], folder["status"]) == (2, 2)
    info = ok(console.get("/compat/rsh/info/"))
    assert (info["success"], info["final_result"][-1]["success"]) == (2, 2)
    # It should keep counting what was uploaded when the console deletes the tasks.
    for task in tasks(console, {})["items"]:
        assert console.delete(f"/compat/rsh/tasks/{task['_id']}").status_code == 200
    assert tasks(console, {})["total_items"] == 0
    (folder,) = folders(console)["items"]
    assert folder["uploadNum"] == 2
    info = ok(console.get("/compat/rsh/info/"))
    assert (info["success"], info["final_result"][-1]["success"]) == (2, 2)


def test_a_deleted_folders_or_tasks_id_is_never_given_again(
    api: Api, console: httpx.Client, tmp_path: Path
) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    first = add_folder(console, "a", tmp_path / "a")
    newest = add_folder(console, "b", tmp_path / "b")
    assert console.delete(f"/compat/rsh/folders/{newest['_id']}").status_code == 200
    # It should give the next folder an id of its own: a page still showing the
    # deleted folder must not delete the new one with its stale id.
    third = add_folder(console, "c", tmp_path / "c")
    assert int(third["_id"]) > int(newest["_id"]) > int(first["_id"])
    assert console.delete(f"/compat/rsh/folders/{newest['_id']}").status_code == 404
    assert [f["name"] for f in folders(console)["items"]] == ["a", "c"]
    # Tasks likewise.
    job_id = int(first["_id"])
    with transaction(api.svc.sessions) as session:
        task_store.seen(session, job_id, ["x.jpg", "y.jpg"], api.clock.now())
    newest_task = tasks(console, {})["items"][0]
    assert console.delete(f"/compat/rsh/tasks/{newest_task['_id']}").status_code == 200
    with transaction(api.svc.sessions) as session:
        task_store.seen(session, job_id, ["z.jpg"], api.clock.now())
    (z,) = tasks(console, {"fileName": "z.jpg"})["items"]
    assert int(z["_id"]) > int(newest_task["_id"])
    assert console.delete(f"/compat/rsh/tasks/{newest_task['_id']}").status_code == 404


def test_a_folder_not_watched_says_why_where_the_console_looks(
    api: Api, console: httpx.Client, tmp_path: Path
) -> None:
    (tmp_path / "gone").mkdir()
    (tmp_path / "off").mkdir()
    add_folder(console, "gone", tmp_path / "gone")
    add_folder(console, "off", tmp_path / "off")
    (tmp_path / "gone").rmdir()
    api.svc.jobs.set_enabled("off", False)
    items = {f["name"]: f for f in folders(console)["items"]}
    # It should not claim "waiting to detect files" (status 0): the console shows
    # no word for 3, and shows the path with the reason.
    gone, off = items["gone"], items["off"]
    assert (gone["status"], off["status"]) == (3, 3)
    assert gone["problem"] == f"source folder {tmp_path / 'gone'} does not exist"
    assert gone["localPath"] == f"{tmp_path / 'gone'} (not watched: {gone['problem']})"
    assert off["problem"] == "the job is disabled"
    assert off["localPath"] == f"{tmp_path / 'off'} (not watched: the job is disabled)"
    only = folders(console, json.dumps({"status": 3}))
    assert only["total_items"] == 2
