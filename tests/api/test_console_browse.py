"""The job form's folder browser without a browser: a remote's folders listed by the
real rclone, a step at a time, a path to use; errors in words; admins only."""

from __future__ import annotations

import html
import re
from pathlib import Path

from tests.api.conftest import Api
from tests.api.test_console import sign_in

USE = re.compile(r'data-use-path="([^"]*)" data-for="([^"]+)"')
FOLDER = re.compile(r'title="([^"]+)"><span aria-hidden="true">▸</span> ([^<]+)</button>')


def tree(root: Path) -> Path:
    for folder in ("photos/2024", "photos/2025", "music", "Docs"):
        (root / folder).mkdir(parents=True)
    (root / "notes.txt").write_text("a file, not a folder")
    return root


def test_an_admin_walks_a_remotes_folders_and_picks_one(api: Api, tmp_path: Path) -> None:
    api.svc.remotes.add("nas", "alias", {"remote": str(tree(tmp_path / "nas"))})
    admin = sign_in(api, "admin")
    # The form's own fields name the start: the remote chosen, the path typed.
    top = admin.get(
        "/jobs/new/browse", params={"side": "source", "source_remote": "nas", "source_path": ""}
    )
    assert top.status_code == 200
    assert [name for _, name in FOLDER.findall(top.text)] == ["Docs", "music", "photos"]
    photos = admin.get(
        "/jobs/new/browse", params={"side": "source", "remote": "nas", "path": "photos"}
    )
    assert FOLDER.findall(photos.text) == [("photos/2024", "2024"), ("photos/2025", "2025")]
    assert USE.findall(photos.text) == [("photos", "f-source_path")]
    assert "Up one level" in photos.text
    # It should name the destination's field when browsing for the destination.
    deeper = admin.get(
        "/jobs/new/browse", params={"side": "destination", "remote": "nas", "path": "photos/2024"}
    )
    assert USE.findall(deeper.text) == [("photos/2024", "f-destination_path")]
    assert "No folders in here." in deeper.text


def test_what_cannot_be_listed_is_said_in_words(api: Api, tmp_path: Path) -> None:
    api.svc.remotes.add("nas", "alias", {"remote": str(tree(tmp_path / "nas"))})
    admin = sign_in(api, "admin")
    missing = admin.get("/jobs/new/browse", params={"remote": "nas", "path": "nope"})
    assert missing.status_code == 200
    assert "Cannot list nas:nope:" in html.unescape(missing.text)
    assert "Start at the top" in missing.text and "data-use-path" not in missing.text
    unknown = admin.get("/jobs/new/browse", params={"remote": "ghost", "path": ""})
    assert "ghost" in html.unescape(unknown.text) and 'role="alert"' in unknown.text
    # This server's folders are those of the browse roots only; none are set here.
    local = admin.get("/jobs/new/browse", params={"side": "source", "path": "/etc"})
    assert "SYNCHUB_BROWSE_ROOTS" in local.text and "data-use-path" not in local.text


def test_only_an_admin_may_browse(api: Api, tmp_path: Path) -> None:
    api.svc.remotes.add("nas", "alias", {"remote": str(tree(tmp_path / "nas"))})
    for role in ("viewer", "operator"):
        answer = sign_in(api, role).get("/jobs/new/browse", params={"remote": "nas"})
        assert answer.status_code == 403, role
        assert "photos" not in answer.text


def test_the_job_form_offers_the_browser_under_each_path(api: Api) -> None:
    form = sign_in(api, "admin").get("/jobs/new")
    assert form.status_code == 200
    for side in ("source", "destination"):
        assert f'hx-include="#f-{side}_remote, #f-{side}_path"' in form.text
        assert f"Browse the {side}'s folders" in form.text
