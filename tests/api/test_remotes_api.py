"""/api/v1/remotes: create, show masked, edit, test, import, and delete unless used."""

from __future__ import annotations

from pathlib import Path

from synchub.engines.obscure import obscure
from tests.api.conftest import Api, ok, problem

SFTP = {"host": "nas.lan", "user": "bob", "pass": "hunter2-remote-secret"}


def test_a_remote_is_created_shown_masked_and_listed(api: Api) -> None:
    made = ok(
        api.admin.post("/api/v1/remotes", json={"name": "box", "type": "sftp", "options": SFTP}),
        201,
    )
    assert made["options"] == {"host": "nas.lan", "pass": "********", "user": "bob"}
    shown = ok(api.viewer.get("/api/v1/remotes/box"))
    assert shown == made
    listed = ok(api.viewer.get("/api/v1/remotes"))
    assert listed["count"] == 1 and listed["data"][0]["name"] == "box"
    assert "hunter2" not in str(listed)


def test_an_edit_replaces_removes_keeps_the_masked_secret_or_changes_nothing(api: Api) -> None:
    api.svc.remotes.add("box", "sftp", SFTP)
    edited = ok(
        api.admin.patch(
            "/api/v1/remotes/box",
            json={
                "options": {"user": "carol", "pass": "********", "port": "2222"},
                "max_concurrency": 2,
            },
        )
    )
    assert edited["options"]["user"] == "carol" and edited["options"]["port"] == "2222"
    assert edited["max_concurrency"] == 2
    # It should keep the stored password when the mask is sent back.
    assert api.svc.remotes.configs(frozenset({"box"}))["box"].options["pass"] == SFTP["pass"]
    edited = ok(
        api.admin.patch(
            "/api/v1/remotes/box", json={"options": {"port": None}, "max_concurrency": 0}
        )
    )
    assert "port" not in edited["options"] and edited["max_concurrency"] is None
    ok(api.admin.patch("/api/v1/remotes/box", json={"options": {"pass": "new-secret-value"}}))
    assert api.svc.remotes.configs(frozenset({"box"}))["box"].options["pass"] == "new-secret-value"
    event = ok(api.viewer.get("/api/v1/audit", params={"action": "remote.edit", "limit": 1}))[
        "data"
    ][0]
    assert event["actor"] == "admin-ada"
    assert event["after"]["secrets_changed"] == ["pass"]
    assert "new-secret-value" not in str(event)
    # It should change nothing on a bad edit.
    before = ok(api.viewer.get("/api/v1/remotes/box"))
    problem(api.admin.patch("/api/v1/remotes/box", json={"options": {"no_such_option": "1"}}), 422)
    problem(api.admin.patch("/api/v1/remotes/box", json={"options": {"host": None}}), 422)
    problem(api.admin.patch("/api/v1/remotes/nope", json={}), 404)
    assert ok(api.viewer.get("/api/v1/remotes/box")) == before


def test_a_remote_in_use_is_not_deleted(api: Api) -> None:
    api.svc.remotes.add("nas", "local", {})
    ok(
        api.admin.post(
            "/api/v1/jobs",
            json={"name": "backup", "params": {"source": "nas:/a", "destination": "/b"}},
        ),
        201,
    )
    body = problem(api.admin.delete("/api/v1/remotes/nas"), 409)
    assert body["type"] == "urn:synchub:problem:remote-in-use" and "backup" in body["detail"]
    assert api.admin.delete("/api/v1/jobs/backup").status_code == 204
    assert api.admin.delete("/api/v1/remotes/nas").status_code == 204
    problem(api.admin.delete("/api/v1/remotes/nas"), 404)


def test_testing_a_remote_lists_it_with_rclone(api: Api, tmp_path: Path) -> None:
    api.svc.remotes.add("here", "alias", {"remote": str(tmp_path)})
    result = ok(api.operator.post("/api/v1/remotes/here/test"))
    assert result["name"] == "here" and result["ok"] is True
    api.svc.remotes.add("gone", "alias", {"remote": str(tmp_path / "missing")})
    assert ok(api.operator.post("/api/v1/remotes/gone/test"))["ok"] is False


def test_an_rclone_conf_is_imported_all_or_nothing(api: Api) -> None:
    conf = (
        "[laptop]\ntype = local\n\n"
        f"[box]\ntype = sftp\nhost = h.example\nuser = u\npass = {obscure('s3cret-imported')}\n"
    )
    made = ok(api.admin.post("/api/v1/remotes/import", content=conf), 201)
    assert [r["name"] for r in made["data"]] == ["laptop", "box"]
    assert made["data"][1]["options"]["pass"] == "********"
    assert "s3cret-imported" not in str(made)
    again = "[fresh]\ntype = local\n\n[laptop]\ntype = local\n"
    problem(api.admin.post("/api/v1/remotes/import", content=again), 409)
    problem(api.admin.post("/api/v1/remotes/import", content="not an ini file"), 422)
    problem(api.admin.post("/api/v1/remotes/import", content=b"\xff\xfe"), 422)
    assert [r["name"] for r in ok(api.viewer.get("/api/v1/remotes"))["data"]] == ["box", "laptop"]


def test_an_import_skips_or_replaces_the_names_taken_when_asked(api: Api) -> None:
    api.svc.remotes.add("laptop", "local", {})
    conf = "[laptop]\ntype = alias\nremote = /srv\n\n[fresh]\ntype = local\n"
    body = problem(api.admin.post("/api/v1/remotes/import", content=conf), 409)
    assert "laptop already exist" in body["detail"]
    url = "/api/v1/remotes/import"
    made = ok(api.admin.post(url, params={"on_conflict": "skip"}, content=conf), 201)
    assert ([r["name"] for r in made["data"]], made["skipped"]) == (["fresh"], ["laptop"])
    again = ok(api.admin.post(url, params={"on_conflict": "replace"}, content=conf), 201)
    assert again["replaced"] == ["laptop", "fresh"] and again["skipped"] == []
    assert ok(api.viewer.get("/api/v1/remotes/laptop"))["type"] == "alias"
    problem(api.admin.post(url, params={"on_conflict": "merge"}, content=conf), 422)


def test_a_remote_wrapped_by_another_is_not_deleted(api: Api) -> None:
    api.svc.remotes.add("nas", "local", {})
    api.svc.remotes.add("vault", "crypt", {"remote": "nas:/vault", "password": "pw"})
    body = problem(api.admin.delete("/api/v1/remotes/nas"), 409)
    assert body["detail"] == (
        "Remote 'nas' is used by remote(s) vault (crypt): remove or change them first"
    )
    assert ok(api.viewer.get("/api/v1/remotes/nas"))["name"] == "nas"
