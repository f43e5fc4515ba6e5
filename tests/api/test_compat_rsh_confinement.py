"""The rclone-sync-hub console's token value (`mock-token-123456`) is public, so what
a token under /compat/rsh may do is confined: a folder it adds reads a directory
inside the browse roots and writes under a remote of synchub's, and an operator's
token, limited to /compat/rsh, is all the console needs.

Against main before this confinement every refusal below was a 201 (the issue's
`localPath /etc, origin /tmp, remotePath /../tmp/loot` made a job copying /etc to
/tmp/loot) and the console's operator token got 403 on adding and deleting folders.
Real server, real databases (SQLite and PostgreSQL); the whole flow with the real
watcher and rclone is `test_compat_rsh_tasks`, which uses the operator token too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from synchub.core.errors import Forbidden, InvalidPath, InvalidRemote, OutsideBrowseRoots
from synchub.services.folders import NewFolder
from synchub.services.jobs.fields import JobFields
from synchub.services.tokens import Role
from synchub.store import jobs as job_store
from synchub.store import tasks as task_store
from synchub.store.db import transaction
from tests.api.conftest import Api, ok

FOLDERS = "/compat/rsh/folders/"
CONSOLE_TOKEN = "mock-token-123456"
VIEWER_TOKEN = "rsh-viewer-123456"


@pytest.fixture
def inbox(api: Api, tmp_path: Path) -> Path:
    """The one browse root, with photos/ in it, `link-in` (a symlink to photos/),
    `link-out` (a symlink to outside/) and `outside/` next to it."""
    root, outside = tmp_path / "inbox", tmp_path / "outside"
    (root / "photos").mkdir(parents=True)
    (outside / "private").mkdir(parents=True)
    (root / "link-in").symlink_to(root / "photos")
    (root / "link-out").symlink_to(outside)
    api.svc.settings.browse_roots = [root]
    return root


@pytest.fixture
def console(api: Api, inbox: Path, tmp_path: Path) -> Iterator[httpx.Client]:
    """The console's client with its token made as the docs say (operator, limited to
    /compat/rsh), and three remotes: `dav` (webdav), `vault` (an alias of a
    directory) and `disk` (a bare local remote: the whole file system)."""
    svc = api.svc
    svc.remotes.add("dav", "webdav", {"url": "http://127.0.0.1:9/", "vendor": "rclone"})
    svc.remotes.add("vault", "alias", {"remote": str(tmp_path / "vault")})
    svc.remotes.add("disk", "local", {})
    svc.tokens.create("rsh-console", "operator", value=CONSOLE_TOKEN, scope="compat-rsh")
    client = api.client(CONSOLE_TOKEN)
    yield client
    client.close()


def folder(inbox: Path, **fields: Any) -> dict[str, Any]:
    """The console's "add folder" body: photos/ to dav:/backup, unless `fields` say."""
    return {"syncType": "local", "name": "photos", "origin": "dav", "remotePath": "/backup",
            "maxDepth": 0, "localPath": str(inbox / "photos"), "originPath": "None",
            **fields}  # fmt: skip


def message(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert list(body) == ["message"] and body["message"], body
    return str(body["message"])


class Unchanged:
    """Asserts that nothing changed since it was made: no job, no new audit event."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.jobs = [j.name for j in api.svc.jobs.list()]
        self.events = len(api.svc.audit.page(limit=1000))

    def check(self) -> None:
        assert [j.name for j in self.api.svc.jobs.list()] == self.jobs
        assert len(self.api.svc.audit.page(limit=1000)) == self.events


def test_the_issues_request_is_refused_and_changes_nothing(
    api: Api, console: httpx.Client, inbox: Path
) -> None:
    # The token the docs recommended before (admin, limited to /compat/rsh), and an
    # unscoped admin's: the confinement holds whatever the role.
    api.svc.tokens.create("rsh-admin", "admin", value="rsh-admin-123456", scope="compat-rsh")
    unchanged = Unchanged(api)
    body = {"syncType": "local", "name": "evil", "localPath": "/etc", "origin": "/tmp",
            "remotePath": "/../tmp/loot"}  # fmt: skip
    with api.client("rsh-admin-123456") as console_admin:
        for client in (console, console_admin, api.admin):
            response = client.post(FOLDERS, json=body)
            assert response.status_code in (400, 403), response.text
            assert message(response, response.status_code)
    unchanged.check()


@pytest.mark.parametrize(
    "local_path",
    [
        "/etc",
        "/",
        "{inbox}/..",
        "{inbox}/photos/../../outside",
        "{inbox}/link-out",  # a symlink inside the root, leading out
        "{inbox}/link-out/private",
        "{outside}",
    ],
)
def test_a_local_path_outside_the_browse_roots_is_a_403(
    api: Api, console: httpx.Client, inbox: Path, local_path: str
) -> None:
    unchanged = Unchanged(api)
    path = local_path.format(inbox=inbox, outside=inbox.parent / "outside")
    response = console.post(FOLDERS, json=folder(inbox, localPath=path))
    assert "outside the directories this server may browse" in message(response, 403)
    unchanged.check()


def test_without_browse_roots_adding_a_folder_says_how_to_set_them(
    api: Api, console: httpx.Client, inbox: Path
) -> None:
    api.svc.settings.browse_roots = []
    unchanged = Unchanged(api)
    said = message(console.post(FOLDERS, json=folder(inbox)), 403)
    assert "No browse roots are set" in said
    assert "SYNCHUB_BROWSE_ROOTS=/srv/inbox" in said
    # It should say the same where the console browses.
    tree = console.get("/compat/rsh/folders/tree", params={"path": "/"})
    assert message(tree, 403) == said
    unchanged.check()


def test_synchubs_own_data_is_never_a_folder_or_in_one(
    api: Api, console: httpx.Client, inbox: Path, tmp_path: Path
) -> None:
    home = api.svc.settings.home
    (home / "backups").mkdir(parents=True)
    assert home.parent == tmp_path  # the data directory, and the SQLite file, in the root
    api.svc.settings.browse_roots = [tmp_path]
    unchanged = Unchanged(api)
    for path in (tmp_path, home, home / "backups"):
        said = message(console.post(FOLDERS, json=folder(inbox, localPath=str(path))), 403)
        assert "synchub's own data" in said, path
    unchanged.check()
    ok(console.post(FOLDERS, json=folder(inbox)), 201)  # a folder beside them


def test_a_folder_is_never_copied_into_itself(api: Api, console: httpx.Client, inbox: Path) -> None:
    # A copy landing in the watched folder is a new file there: copied again, and
    # again, until the disk is full.
    svc = api.svc
    svc.remotes.add("inner", "alias", {"remote": str(inbox / "photos")})
    svc.remotes.add("deeper", "alias", {"remote": "inner:/sub"})  # an alias of an alias
    svc.remotes.add("near", "alias", {"remote": "inner:"})
    unchanged = Unchanged(api)
    for local, origin, path in (
        (inbox, "inner", ""),  # the destination inside the folder
        (inbox / "photos", "inner", "/"),  # the folder itself
        (inbox, "deeper", "x"),
        (inbox / "photos", "near", "sub/y"),
        (inbox / "photos", "inner", "/../photos"),  # refused anyway: '..'
    ):
        body = folder(inbox, localPath=str(local), origin=origin, remotePath=path)
        said = message(console.post(FOLDERS, json=body), 400)
        assert "overlaps the folder itself" in said or "'..'" in said, (origin, path)
    unchanged.check()
    (inbox / "other").mkdir()
    ok(
        console.post(FOLDERS, json=folder(inbox, localPath=str(inbox / "other"), origin="inner")),
        201,
    )


@pytest.mark.parametrize(
    ("origin", "needle"),
    [
        ("/tmp", "name of a remote"),
        ("nowhere", "name of a remote"),
        ("dav:", "name of a remote"),
        ("dav:/../x", "name of a remote"),
        (":local:", "name of a remote"),  # rclone's on-the-fly remote
        ("dav,url=http://evil/:", "name of a remote"),  # a connection string
        ("disk", "`local` remote"),  # the whole file system, under any path
    ],
)
def test_the_origin_must_name_a_remote_with_a_root_of_its_own(
    api: Api, console: httpx.Client, inbox: Path, origin: str, needle: str
) -> None:
    unchanged = Unchanged(api)
    response = console.post(FOLDERS, json=folder(inbox, origin=origin))
    assert needle in message(response, 400)
    unchanged.check()


@pytest.mark.parametrize(
    "remote_path",
    [
        "..",
        "/../tmp/loot",
        "a/../../b",
        "a/..",
        "a/b/../../..",
        "..\\x",  # a separator on Windows servers (SMB, some WebDAV)
        "a\\..\\..\\b",
        "%2e%2e/x",  # decoded by some servers
        "%2E%2E%2Fx",
        "a%5c..%5cb",
        "\uff0e\uff0e/x",  # fullwidth dots: ".." once Unicode is folded (NFKC)
        "a\uff0f..\uff0fb",  # fullwidth solidus
        "\u2025/x",  # the two-dot leader folds to ".."
    ],
)
def test_the_remote_path_may_not_climb_above_the_remote(
    api: Api, console: httpx.Client, inbox: Path, remote_path: str
) -> None:
    unchanged = Unchanged(api)
    response = console.post(FOLDERS, json=folder(inbox, remotePath=remote_path))
    assert message(response, 400).startswith("Bad remotePath")
    unchanged.check()


@pytest.mark.parametrize("remote_path", ["a\nb", "a\x00b"])
def test_a_remote_path_holding_a_control_character_is_refused_at_the_door(
    api: Api, console: httpx.Client, inbox: Path, remote_path: str
) -> None:
    # The text rule (synchub/core/text.py) answers before the folder form is read.
    unchanged = Unchanged(api)
    response = console.post(FOLDERS, json=folder(inbox, remotePath=remote_path))
    assert message(response, 422).startswith("body.remotePath holds the control character")
    unchanged.check()


@pytest.mark.parametrize(
    ("remote_path", "destination"),
    [
        ("", "vault:"),
        ("/", "vault:/"),
        ("//a/./b//", "vault:/a/b"),
        ("x/y/", "vault:x/y"),
        ("a..b/...", "vault:a..b/..."),  # dots in a name are no way up
        ("%41 % 2e", "vault:%41 % 2e"),
    ],
)
def test_the_remote_path_is_normalised(
    api: Api, console: httpx.Client, inbox: Path, remote_path: str, destination: str
) -> None:
    body = folder(inbox, origin="vault", remotePath=remote_path)
    made = ok(console.post(FOLDERS, json=body), 201)
    assert made["origin"] == "vault"
    assert api.svc.jobs.show("photos").params["destination"] == destination


def test_a_symlink_inside_the_roots_is_followed_and_the_folder_kept_resolved(
    api: Api, console: httpx.Client, inbox: Path
) -> None:
    made = ok(console.post(FOLDERS, json=folder(inbox, localPath=f"{inbox}/link-in")), 201)
    assert made["localPath"] == str(inbox / "photos")
    job = api.svc.jobs.show("photos")
    assert (job.params["source"], job.params["op"], job.watch) == (
        str(inbox / "photos"), "copy", True,
    )  # fmt: skip
    assert job.params["options"] == [] and job.params["filters"] == []
    (event,) = api.svc.audit.page(target="photos")
    assert (event.action, event.actor) == ("job.add", "rsh-console")
    # It should refuse a missing directory or a file with a 400 that says so.
    (inbox / "note.txt").write_text("x")
    for path in (f"{inbox}/gone", f"{inbox}/note.txt"):
        said = message(console.post(FOLDERS, json=folder(inbox, name="b", localPath=path)), 400)
        assert said.startswith("Bad localPath")


def test_the_console_operator_adds_and_removes_folders_and_retries_and_deletes_tasks(
    api: Api, console: httpx.Client, inbox: Path
) -> None:
    made = ok(console.post(FOLDERS, json=folder(inbox)), 201)
    with transaction(api.svc.sessions) as session:
        job = job_store.get(session, "photos")
        assert job is not None
        task_store.seen(session, job.id, ["a.jpg", "b.jpg"], api.clock.now())
    ids = {t.path: t.id for t in api.svc.tasks.page()[0]}
    retried = ok(console.put(f"/compat/rsh/tasks/{ids['a.jpg']}", json={"status": 0}))
    assert retried["status"] == 1
    ok(console.delete(f"/compat/rsh/tasks/{ids['b.jpg']}"))
    ok(console.delete(f"{FOLDERS}{made['_id']}"))
    assert api.svc.jobs.list() == []
    actions = [(e.action, e.actor) for e in api.svc.audit.page(target="photos")]
    assert actions == [("job.remove", "rsh-console"), ("job.add", "rsh-console")]


def test_the_console_operator_leaves_other_jobs_and_remote_sources_to_admins(
    api: Api, console: httpx.Client, inbox: Path
) -> None:
    outside = inbox.parent / "outside"
    params = {"source": str(outside), "destination": "dav:o"}
    made = api.svc.jobs.add("admins", JobFields(params=params, watch=True))
    unchanged = Unchanged(api)
    assert "admin" in message(console.delete(f"{FOLDERS}{made.id}"), 403)
    remote = {"syncType": "remote", "name": "mirror", "origin": "dav", "remotePath": "m",
              "originPath": "vault:/x"}  # fmt: skip
    assert "admin" in message(console.post(FOLDERS, json=remote), 403)
    unchanged.check()
    # It should let an admin do both, with the same rules on the remote source.
    bad = api.admin.post(FOLDERS, json={**remote, "originPath": "disk:/etc"})
    assert "`local` remote" in message(bad, 400)
    climbing = api.admin.post(FOLDERS, json={**remote, "originPath": "vault:a/../.."})
    assert "'..'" in message(climbing, 400)
    ok(api.admin.post(FOLDERS, json=remote), 201)
    ok(api.admin.delete(f"{FOLDERS}{made.id}"))


def test_a_viewers_console_token_only_looks(api: Api, console: httpx.Client, inbox: Path) -> None:
    made = ok(console.post(FOLDERS, json=folder(inbox)), 201)
    with transaction(api.svc.sessions) as session:
        job = job_store.get(session, "photos")
        assert job is not None
        task_store.seen(session, job.id, ["a.jpg"], api.clock.now())
    (task,) = api.svc.tasks.page()[0]
    api.svc.tokens.create("rsh-viewer", "viewer", value=VIEWER_TOKEN, scope="compat-rsh")
    unchanged = Unchanged(api)
    with api.client(VIEWER_TOKEN) as viewer:
        for method, path, body in (
            ("POST", FOLDERS, folder(inbox, name="other")),
            ("DELETE", f"{FOLDERS}{made['_id']}", None),
            ("PUT", f"/compat/rsh/tasks/{task.id}", {"status": 0}),
            ("DELETE", f"/compat/rsh/tasks/{task.id}", None),
        ):
            said = message(viewer.request(method, path, json=body), 403)
            assert "needs operator" in said, (method, path)
        ok(viewer.get(FOLDERS))
    unchanged.check()
    assert api.svc.tasks.show(task.id).state == "pending"


def test_the_console_operator_token_cannot_touch_the_rest_api(
    api: Api, console: httpx.Client, inbox: Path
) -> None:
    unchanged = Unchanged(api)
    job = {"name": "loot", "params": {"source": "/etc", "destination": "/tmp/loot"}}
    for method, path, body in (
        ("POST", "/api/v1/jobs", job),
        ("GET", "/api/v1/jobs", None),
        ("POST", "/api/v1/remotes", {"name": "root", "type": "local"}),
        ("PATCH", "/api/v1/remotes/dav", {"options": {"url": "http://evil/"}}),
        ("DELETE", "/api/v1/remotes/dav", None),
        ("POST", "/api/v1/tokens", {"name": "mine", "role": "admin"}),
        ("POST", "/api/v1/task/scheduler/execute-all-enabled", None),
    ):
        response = console.request(method, path, json=body)
        assert response.status_code == 403, (method, path)
        said = response.json().get("detail") or response.json()["msg"]  # the Celery layer's
        assert said == "this token is limited to /compat/rsh", (method, path)
    unchanged.check()


# -- the rules are the service's, whoever calls ------------------------------------------


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMIN, None])  # None: the CLI
def test_the_folder_service_confines_every_caller(
    api: Api, console: httpx.Client, inbox: Path, role: Role | None
) -> None:
    folders = api.svc.for_actor("someone", role).folders
    unchanged = Unchanged(api)
    with pytest.raises(OutsideBrowseRoots):
        folders.add(NewFolder("evil", "dav", local_path="/etc"))
    with pytest.raises(InvalidRemote):
        folders.add(NewFolder("evil", "/tmp", local_path=str(inbox / "photos")))
    with pytest.raises(InvalidPath):
        folders.add(NewFolder("evil", "dav", "/../tmp", local_path=str(inbox / "photos")))
    if role is Role.OPERATOR:
        with pytest.raises(Forbidden):
            folders.add(NewFolder("evil", "dav", remote_source="vault:x"))
    unchanged.check()
