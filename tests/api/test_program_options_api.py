"""Over HTTP: a remote option that would make rclone start a program on the server
is refused (422, nothing stored) unless command jobs are allowed, and even then only
an admin may set one; a stored one is neither tested nor measured; the console's
folder form cannot smuggle one in as its `origin`.

Tests marked "fails on main" failed against main's code (94cea0f).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from synchub.services import Services
from tests.api.conftest import Api, ok, problem

NOWHERE = "http://127.0.0.1:9/"


def davcmd(marker: Path) -> dict[str, str]:
    return {"url": NOWHERE, "bearer_token_command": f"touch {marker}"}


def davcmd_body(marker: Path) -> dict[str, object]:
    return {"name": "davcmd", "type": "webdav", "options": davcmd(marker)}


def test_adding_editing_or_importing_one_is_a_422_that_changes_nothing(
    api: Api, tmp_path: Path
) -> None:
    """Fails on main: each was stored."""
    body = problem(api.admin.post("/api/v1/remotes", json=davcmd_body(tmp_path / "ran")), 422)
    assert "bearer_token_command" in body["detail"]
    assert "SYNCHUB_ALLOW_COMMAND_JOBS=1" in body["detail"]
    assert body["type"] == "urn:synchub:problem:commands-disabled"
    plain = {"name": "dav", "type": "webdav", "options": {"url": NOWHERE}}
    ok(api.admin.post("/api/v1/remotes", json=plain), 201)
    before = ok(api.viewer.get("/api/v1/remotes"))
    edit = {"options": {"bearer_token_command": "id"}}
    body = problem(api.admin.patch("/api/v1/remotes/dav", json=edit), 422)
    assert "bearer_token_command" in body["detail"]
    conf = "[a]\ntype = local\n\n[s]\ntype = sftp\nhost = h\nssh = sh -c id\n"
    response = api.admin.post(
        "/api/v1/remotes/import", content=conf, headers={"Content-Type": "text/plain"}
    )
    assert "option ssh" in problem(response, 422)["detail"]
    assert ok(api.viewer.get("/api/v1/remotes")) == before


def test_a_stored_one_is_not_tested_or_measured_by_a_server_without_the_flag(
    api: Api, svc_allowing_commands: Services, tmp_path: Path
) -> None:
    """Fails on main: the test answered 200 after running the command."""
    marker = tmp_path / "ran"
    svc_allowing_commands.remotes.add("davcmd", "webdav", davcmd(marker))
    body = problem(api.operator.post("/api/v1/remotes/davcmd/test"), 422)
    assert "command jobs are disabled on this server" in body["detail"]
    # The console's size refresh measures it in the background: it fails, with why.
    ok(api.operator.get("/compat/rsh/origins/refresh"))
    assert api.svc.sizes.wait(30)
    (origin,) = ok(api.viewer.get("/compat/rsh/origins/list"))["items"]
    assert origin["state"] == "failed"
    assert "command jobs are disabled on this server" in origin["error"]
    assert not marker.exists()


def test_with_the_flag_only_an_admin_may_set_one(
    api_allowing_commands: Api, tmp_path: Path
) -> None:
    body = davcmd_body(tmp_path / "ran")
    conf = "[s]\ntype = sftp\nhost = h\nssh = sh -c id\n"
    text = {"Content-Type": "text/plain"}
    for client in (api_allowing_commands.viewer, api_allowing_commands.operator):
        problem(client.post("/api/v1/remotes", json=body), 403)
        problem(client.post("/api/v1/remotes/import", content=conf, headers=text), 403)
    ok(api_allowing_commands.admin.post("/api/v1/remotes", json=body), 201)
    edit = {"options": {"bearer_token_command": "true"}}
    problem(api_allowing_commands.operator.patch("/api/v1/remotes/davcmd", json=edit), 403)
    ok(api_allowing_commands.admin.patch("/api/v1/remotes/davcmd", json=edit))
    ok(api_allowing_commands.admin.post("/api/v1/remotes/import", content=conf, headers=text), 201)


@pytest.mark.parametrize(
    "origin",
    [
        f":webdav,url='{NOWHERE}',bearer_token_command='touch x'",  # an on-the-fly remote
        "dav,bearer_token_command='touch x'",  # a defined remote with an override
    ],
)
def test_the_consoles_folder_form_cannot_define_a_remote_in_origin(
    api: Api, tmp_path: Path, origin: str
) -> None:
    api.svc.remotes.add("dav", "webdav", {"url": NOWHERE})
    body = {"syncType": "local", "name": "evil", "origin": origin, "remotePath": "/x",
            "localPath": str(tmp_path)}  # fmt: skip
    response = api.admin.post("/compat/rsh/folders/", json=body)
    assert response.status_code == 400
    assert "Bad origin" in response.json()["message"]
    assert ok(api.viewer.get("/api/v1/jobs"))["count"] == 0
