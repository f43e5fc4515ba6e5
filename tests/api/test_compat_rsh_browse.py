"""The rclone-sync-hub console's browsing calls, as it sends them (no trailing slash),
against a real server and real rclone: remote names, the folder tree under the browse
roots, and remote sizes measured in the background. Errors are {"message": ...}."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from synchub.services import Services
from synchub.services.sizes import Refreshing, RemoteSizes
from tests.api.conftest import Api, ok
from tests.e2e.conftest import wait_for

BASE = "/compat/rsh"
#: An SFTP remote on the silent server (with a password: without one rclone asks an
#: SSH agent, and fails at once).
SILENT_SFTP = {"host": "127.0.0.1", "user": "u", "pass": "pw-5ecret"}


def message(response: httpx.Response, status: int) -> str:
    """The message of a compat error, which must have `status` and nothing but it."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert list(body) == ["message"] and body["message"], body
    return str(body["message"])


# -- errors -----------------------------------------------------------------------


def test_every_error_under_the_prefix_is_a_message_with_its_status(api: Api) -> None:
    assert "Bearer" in message(api.anonymous.get(f"{BASE}/rclone/list"), 401)
    assert "unknown" in message(api.client("forged-token").get(f"{BASE}/rclone/list"), 401)
    assert "operator" in message(api.viewer.get(f"{BASE}/origins/refresh"), 403)
    assert message(api.viewer.get(f"{BASE}/no/such/path"), 404)
    assert message(api.viewer.post(f"{BASE}/rclone/list"), 405)
    # It should sum a malformed request up in the message, naming the parameter.
    bad_page = message(api.viewer.get(f"{BASE}/origins/list", params={"per_page": 1000}), 422)
    assert "per_page" in bad_page
    bad_query = message(api.viewer.get(f"{BASE}/origins/list", params={"query": "[1]"}), 422)
    assert "JSON object" in bad_query
    # It should leave the rest of the API with its problem documents.
    elsewhere = api.anonymous.get("/api/v1/jobs")
    assert elsewhere.headers["content-type"] == "application/problem+json"


# -- /rclone/list -------------------------------------------------------------------


def test_rclone_list_is_a_bare_array_of_remote_names(api: Api, tmp_path: Path) -> None:
    assert ok(api.viewer.get(f"{BASE}/rclone/list")) == []
    api.svc.remotes.add("nas", "alias", {"remote": str(tmp_path)})
    api.svc.remotes.add("box", "sftp", {"host": "h.example", "user": "u", "pass": "pw-secret"})
    answer = api.viewer.get(f"{BASE}/rclone/list")
    assert ok(answer) == ["box", "nas"]
    assert "pw-secret" not in answer.text


# -- /folders/tree --------------------------------------------------------------------


@pytest.fixture
def roots(api: Api, tmp_path: Path) -> list[Path]:
    """Two browse roots, inbox/ and photos/, and outside/ next to them."""
    inbox, photos, outside = tmp_path / "inbox", tmp_path / "photos", tmp_path / "outside"
    for d in (inbox / "scans" / "2025", inbox / ".cache", photos, outside / "private"):
        d.mkdir(parents=True)
    (inbox / "readme.txt").write_text("a file, not listed")
    (inbox / "out").symlink_to(outside)
    api.svc.settings.browse_roots = [inbox, photos]
    return [inbox, photos]


def children(api: Api, path: str) -> list[dict[str, Any]]:
    body = ok(api.viewer.get(f"{BASE}/folders/tree", params={"path": path}))
    assert set(body) == {"children", "truncated"}
    kids: list[dict[str, Any]] = body["children"]
    assert all(set(c) == {"name", "path", "is_dir"} and c["is_dir"] is True for c in kids)
    return kids


def test_the_tree_starts_at_the_roots_and_follows_each_childs_path(
    api: Api, roots: list[Path]
) -> None:
    inbox, photos = roots
    top = children(api, "/")
    assert top == [
        {"name": str(inbox), "path": str(inbox), "is_dir": True},
        {"name": str(photos), "path": str(photos), "is_dir": True},
    ]
    # It should list what the console sends next: a child's path, as it was given.
    level1 = children(api, top[0]["path"])
    assert [c["name"] for c in level1] == [".cache", "scans"]  # no file, no way out
    level2 = children(api, level1[1]["path"])
    assert level2 == [{"name": "2025", "path": str(inbox / "scans" / "2025"), "is_dir": True}]
    assert children(api, level2[0]["path"]) == []


def test_the_tree_refuses_every_way_out_with_403(api: Api, roots: list[Path]) -> None:
    inbox = roots[0]
    for path in (
        "/etc",
        str(inbox.parent),
        f"{inbox}/..",
        f"{inbox}/scans/../../outside",
        f"{inbox}/out",  # a symlink leading out
        f"{inbox}/out/private",
    ):
        response = api.viewer.get(f"{BASE}/folders/tree", params={"path": path})
        assert "outside" in message(response, 403), path
    # It should say what is wrong with a missing directory or a relative path.
    assert "No directory" in message(
        api.viewer.get(f"{BASE}/folders/tree", params={"path": f"{inbox}/gone"}), 404
    )
    assert "absolute" in message(
        api.viewer.get(f"{BASE}/folders/tree", params={"path": "scans"}), 422
    )


def test_the_tree_takes_unicode_and_long_names(api: Api, roots: list[Path]) -> None:
    inbox = roots[0]
    names = ["日本語", "emoji 📁", "a" * 255, "spaces and % and ?&="]
    for name in names:
        (inbox / "scans" / name).mkdir()
    listed = children(api, str(inbox / "scans"))
    assert sorted(c["name"] for c in listed) == sorted(["2025", *names])
    for child in listed:
        assert children(api, child["path"]) == [] or child["name"] == "2025"


# -- /origins -------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[tuple[int, threading.Event]]:
    """A TCP port that accepts connections and never says a word (an SFTP server that
    hangs), until the event is set; then it closes them and stops listening."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    release = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not release.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
        for conn in accepted:
            conn.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], release
    release.set()
    thread.join(5)


def origins(api: Api) -> dict[str, dict[str, Any]]:
    body = ok(api.viewer.get(f"{BASE}/origins/list"))
    assert body["total_items"] == len(body["items"])
    return {item["name"]: item for item in body["items"]}


def test_refresh_answers_at_once_and_the_list_then_shows_the_figures(
    api: Api, tmp_path: Path, silent_server: tuple[int, threading.Event]
) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    sizes = {"a.bin": 1000, "empty": 0, "sub/b.txt": 24, "sub/ünïcode.txt": 7}
    for name, size in sizes.items():
        (data / name).write_bytes(b"x" * size)
    api.svc.remotes.add("data", "alias", {"remote": str(data)})
    api.svc.remotes.add("gone", "alias", {"remote": str(tmp_path / "missing")})
    port, release = silent_server
    api.svc.remotes.add("hangs", "sftp", SILENT_SFTP | {"port": str(port)})
    before = origins(api)
    # With no figures yet, it should say why in the columns the console shows (it
    # prints `count` as it is, and null `bytes` as "0.00KB").
    never = "not measured yet: refresh"
    assert {n: (o["state"], o["count"], o["bytes"], o["measured_at"])
            for n, o in before.items()} == {
        "data": ("never", never, never, None),
        "gone": ("never", never, never, None),
        "hangs": ("never", never, never, None),
    }  # fmt: skip

    refreshed = ok(api.operator.get(f"{BASE}/origins/refresh"))
    # It should answer while a measurement still hangs: it waits for none of them.
    assert refreshed["started"] == ["data", "gone", "hangs"] and refreshed["running"] == []
    hangs = origins(api)["hangs"]
    assert (hangs["state"], hangs["count"], hangs["bytes"]) == (
        "measuring",
        "measuring…",
        "measuring…",
    )
    # It should join a running measurement rather than start a second one.
    again = ok(api.operator.get(f"{BASE}/origins/refresh"))
    assert "hangs" in again["running"] and "hangs" not in again["started"]

    done = wait_for(
        "the local figures",
        lambda: (
            (o := origins(api))["data"]["state"] == "ok" and o["gone"]["state"] == "failed" and o
        ),
        timeout=60,
    )
    figures = done["data"]
    assert (figures["count"], figures["bytes"], figures["sizeless"]) == (4, 1031, 0)
    assert figures["measured_at"] == "2025-06-02T09:00:00+00:00" and figures["error"] is None
    gone = done["gone"]
    assert "directory not found" in gone["error"]
    assert gone["count"] == gone["bytes"] == f"failed: {gone['error']}"
    assert done["hangs"]["state"] == "measuring"

    # It should show the figures' age by the clock, and keep them while remeasuring.
    api.clock.advance(90)
    assert origins(api)["data"]["age_s"] == 90
    release.set()  # the hanging server goes away: that measurement fails
    failed = wait_for(
        "the hanging measurement to fail",
        lambda: (o := origins(api))["hangs"]["state"] == "failed" and o,
    )
    assert failed["hangs"]["error"] and "pw-5ecret" not in failed["hangs"]["error"]


def test_origins_list_pages_and_filters_like_the_consoles_other_lists(
    api: Api, tmp_path: Path
) -> None:
    for name in ("a1", "a2", "b1"):
        api.svc.remotes.add(name, "alias", {"remote": str(tmp_path)})
    page = ok(
        api.viewer.get(f"{BASE}/origins/list", params={"page": 2, "per_page": 2, "query": "{}"})
    )
    assert [i["name"] for i in page["items"]] == ["b1"]
    assert (page["page"], page["per_page"], page["total_items"], page["total_pages"]) == (
        2,
        2,
        3,
        2,
    )
    only_a = ok(
        api.viewer.get(f"{BASE}/origins/list", params={"query": '{"name": {"$regex": "^a"}}'})
    )
    assert [i["name"] for i in only_a["items"]] == ["a1", "a2"] and only_a["total_items"] == 2


def test_a_measurement_that_takes_too_long_is_killed_and_reported(
    svc: Services, silent_server: tuple[int, threading.Event]
) -> None:
    port, _ = silent_server
    svc.remotes.add("hangs", "sftp", SILENT_SFTP | {"port": str(port)})
    sizes = RemoteSizes(svc, timeout_s=1)
    assert sizes.refresh() == Refreshing(started=["hangs"], running=[])
    assert sizes.wait(30), "rclone size outlived its timeout"
    (figure,) = sizes.figures()
    assert figure.state == "failed" and "within 1s" in figure.error


def test_closing_the_services_stops_running_measurements(
    svc: Services, silent_server: tuple[int, threading.Event]
) -> None:
    port, _ = silent_server
    svc.remotes.add("hangs", "sftp", SILENT_SFTP | {"port": str(port)})
    svc.sizes.refresh()
    svc.sizes.stop()
    assert svc.sizes.wait(30)
    (figure,) = svc.sizes.figures()
    assert (figure.state, figure.error) == ("failed", "stopped measuring hangs:")


def test_a_bare_local_remote_is_not_measured(svc: Services) -> None:
    # Its root is the server's working directory: possibly the whole disk.
    svc.remotes.add("disk", "local", {})
    svc.sizes.refresh()
    assert svc.sizes.wait(30)
    (figure,) = svc.sizes.figures()
    assert figure.state == "failed" and "alias remote" in figure.error
