"""The role matrix: every endpoint × every role → allowed, or 403 for a weaker role.

viewer reads; operator also runs, cancels, retries, enables and disables, and adds
and removes watched folders inside the browse roots through the rclone-sync-hub
console's API; admin also changes configuration and tokens. Without a token: 401
everywhere. A token limited to /compat/rsh (the console's) acts with its role there
and gets 403 everywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synchub.services.alerts import AlertFields
from synchub.services.jobs.fields import JobFields
from synchub.store import jobs as job_store
from synchub.store import tasks as task_store
from synchub.store.db import transaction
from tests.api.conftest import ROLES, Api
from tests.support.harness import Harness

CONF = "[imported]\ntype = local\n"
#: A folder the console adds: "{inbox}" stands for a directory inside the browse roots.
RSH_FOLDER = {"syncType": "local", "name": "rsh-made", "origin": "vault", "remotePath": "/x",
              "maxDepth": 10, "localPath": "{inbox}", "originPath": "None"}  # fmt: skip

#: (method, path, weakest role allowed, request keyword arguments). Destructive
#: rows come last and act on objects of their own.
MATRIX: list[tuple[str, str, str, dict[str, Any]]] = [
    ("GET", "/readyz", "viewer", {}),
    ("GET", "/metrics", "viewer", {}),
    ("GET", "/api/v1/workers", "viewer", {}),
    ("GET", "/api/v1/remotes", "viewer", {}),
    ("GET", "/api/v1/remotes/nas", "viewer", {}),
    ("POST", "/api/v1/remotes", "admin", {"json": {"name": "r2", "type": "local"}}),
    ("PATCH", "/api/v1/remotes/nas", "admin", {"json": {"max_concurrency": 2}}),
    ("POST", "/api/v1/remotes/import", "admin", {"content": CONF}),
    ("POST", "/api/v1/remotes/nas/test", "operator", {}),
    ("GET", "/api/v1/jobs", "viewer", {}),
    ("GET", "/api/v1/jobs/j", "viewer", {}),
    ("POST", "/api/v1/jobs", "admin", {"json": {"name": "j2", "kind": "scripted"}}),
    ("PATCH", "/api/v1/jobs/j", "admin", {"json": {"retries": 1}}),
    ("POST", "/api/v1/jobs/j/enable", "operator", {}),
    ("POST", "/api/v1/jobs/j/disable", "operator", {}),
    ("POST", "/api/v1/jobs/j/run", "operator", {}),
    ("POST", "/api/v1/jobs/run", "operator", {"json": {"tag": "t"}}),
    ("GET", "/api/v1/jobs/j/runs", "viewer", {}),
    ("GET", "/api/v1/runs", "viewer", {}),
    ("GET", "/api/v1/runs/{done}", "viewer", {}),
    ("POST", "/api/v1/runs/{pending}/cancel", "operator", {}),
    ("POST", "/api/v1/runs/{done}/retry", "operator", {}),
    ("POST", "/api/v1/runs/{done}/restore", "operator", {}),
    ("GET", "/api/v1/runs/{done}/log", "viewer", {}),
    ("GET", "/api/v1/runs/{done}/files", "viewer", {}),
    ("GET", "/api/v1/runs/{done}/events", "viewer", {}),
    ("GET", "/api/v1/tasks", "viewer", {}),
    ("GET", "/api/v1/tasks/{task}", "viewer", {}),
    ("POST", "/api/v1/tasks/{task}/retry", "operator", {}),
    ("POST", "/api/v1/schedules/validate", "viewer", {"json": {"cron": "0 2 * * *"}}),
    ("GET", "/api/v1/scheduler", "viewer", {}),
    ("GET", "/api/v1/audit", "viewer", {}),
    ("GET", "/api/v1/tokens", "admin", {}),
    ("POST", "/api/v1/tokens", "admin", {"json": {"name": "made", "role": "viewer"}}),
    ("GET", "/api/v1/health", "viewer", {}),
    ("GET", "/api/v1/alerts", "viewer", {}),
    ("GET", "/api/v1/alerts/ops", "viewer", {}),
    ("POST", "/api/v1/alerts", "admin", {"json": {"name": "made", "url": "json://127.0.0.1:9/"}}),
    ("POST", "/api/v1/alerts/ops/test", "admin", {}),
    ("PATCH", "/api/v1/alerts/ops", "admin", {"json": {"after": 2}}),
    ("POST", "/api/v1/jobs/j/mute", "operator", {"json": {"duration": "2h"}}),
    ("POST", "/api/v1/jobs/j/unmute", "operator", {}),
    ("GET", "/api/v1/config/export", "viewer", {}),
    ("GET", "/api/v1/config/schema", "viewer", {}),
    ("POST", "/api/v1/config/apply", "admin", {"params": {"dry_run": "true"}, "json": {}}),
    ("POST", "/api/v1/task/scheduler/refresh-tasks", "operator", {}),
    ("GET", "/api/v1/task/scheduler/task-status", "viewer", {}),
    ("POST", "/api/v1/task/scheduler/validate-cron", "viewer", {"json": "0 2 * * *"}),
    ("POST", "/api/v1/task/scheduler/execute-sync/j", "operator", {}),
    ("POST", "/api/v1/task/scheduler/execute-all-enabled", "operator", {}),
    ("GET", "/api/v1/task/scheduler/task-result/{done}", "viewer", {}),
    ("DELETE", "/api/v1/task/scheduler/clear-tasks", "operator", {}),
    ("GET", "/compat/rsh/rclone/list", "viewer", {}),
    ("GET", "/compat/rsh/folders/tree", "viewer", {"params": {"path": "/"}}),
    ("GET", "/compat/rsh/origins/list", "viewer", {}),
    ("GET", "/compat/rsh/origins/refresh", "operator", {}),
    ("GET", "/compat/rsh/info/", "viewer", {}),
    ("GET", "/compat/rsh/folders/", "viewer", {"params": {"query": "{}"}}),
    ("POST", "/compat/rsh/folders/", "operator", {"json": RSH_FOLDER}),
    ("GET", "/compat/rsh/tasks/", "viewer", {"params": {"query": '{"status": 0}'}}),
    ("PUT", "/compat/rsh/tasks/{task}", "operator", {"json": {"status": 0}}),
    ("DELETE", "/api/v1/remotes/spare", "admin", {}),
    ("DELETE", "/api/v1/jobs/spare-job", "admin", {}),
    ("DELETE", "/api/v1/tokens/spare-token", "admin", {}),
    ("DELETE", "/api/v1/alerts/spare-alert", "admin", {}),
    ("DELETE", "/api/v1/tasks/{spare-task}", "operator", {}),
    ("DELETE", "/compat/rsh/tasks/{rsh-task}", "operator", {}),
    ("DELETE", "/compat/rsh/folders/{folder}", "operator", {}),
]

#: The console's tokens: limited to /compat/rsh, each with the role of its name.
SCOPED = {"viewer": "rsh-viewer-value", "operator": "mock-token-123456"}
#: Routes whose 503 is an answer (a check found a problem), not a failure.
CHECKS = {"/readyz", "/api/v1/health"}
#: Routes that are open on purpose: liveness and the API's own description.
OPEN = {"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _template(path: str) -> str:
    for name in ("{done}", "{pending}"):
        path = path.replace(name, "{run_id}")
    for name in ("{task}", "{spare-task}", "{rsh-task}"):
        path = path.replace(name, "{task_id}")
    path = path.replace("{folder}", "{folder_id}")
    replacements = {
        "/remotes/nas": "/remotes/{name}",
        "/remotes/spare": "/remotes/{name}",
        "/jobs/j/": "/jobs/{name}/",
        "/execute-sync/j": "/execute-sync/{config_id}",
        "/task-result/{run_id}": "/task-result/{task_id}",
        "/jobs/spare-job": "/jobs/{name}",
        "/tokens/spare-token": "/tokens/{name}",
        "/alerts/ops": "/alerts/{name}",
        "/alerts/spare-alert": "/alerts/{name}",
    }
    for concrete, template in replacements.items():
        path = path.replace(concrete, template)
    if path == "/api/v1/jobs/j":
        path = "/api/v1/jobs/{name}"
    return path


def test_the_matrix_lists_every_endpoint(openapi: dict[str, Any]) -> None:
    # The OpenAPI document lists every endpoint the app serves, routers included.
    served = {
        (method.upper(), path)
        for path, operations in openapi["paths"].items()
        if path not in OPEN
        for method in operations
    }
    listed = {(method, _template(path)) for method, path, _, _ in MATRIX}
    assert served - listed == set(), "endpoints missing from the role matrix"
    assert listed - served == set(), "matrix rows for endpoints that do not exist"


def test_every_endpoint_allows_its_roles_and_refuses_weaker_ones(
    api: Api, harness: Harness, tmp_path: Path
) -> None:
    svc = api.svc
    inbox = tmp_path / "inbox"
    (inbox / "spare").mkdir(parents=True)
    svc.settings.browse_roots = [inbox]
    for name in ("nas", "spare"):
        svc.remotes.add(name, "local", {})
    svc.remotes.add("vault", "alias", {"remote": str(tmp_path / "vault")})
    svc.jobs.add("j", JobFields(kind="scripted", tags=["t"], cron="0 2 * * *"))
    svc.jobs.add("spare-job", JobFields(kind="scripted"))
    svc.tokens.create("spare-token", "viewer")
    for alert in ("ops", "spare-alert"):
        svc.alerts.add(alert, AlertFields(url="json://127.0.0.1:9/"))
    for role, value in SCOPED.items():
        svc.tokens.create(f"rsh-{role}", role, value=value, scope="compat-rsh")
    done = svc.runs.request("j")
    harness.step()
    pending = svc.runs.request("spare-job")
    with transaction(svc.sessions) as session:
        job = job_store.get(session, "j")
        assert job is not None
        task_store.seen(session, job.id, ["a.txt", "b.txt", "c.txt"], api.clock.now())
    tasks = {t.path: str(t.id) for t in svc.tasks.page()[0]}
    params = {"source": str(inbox / "spare"), "destination": "vault:spare"}
    folder = svc.jobs.add("spare-folder", JobFields(params=params, watch=True))
    ids = {
        "{done}": str(done),
        "{pending}": str(pending),
        "{task}": tasks["a.txt"],
        "{spare-task}": tasks["b.txt"],
        "{rsh-task}": tasks["c.txt"],
        "{folder}": str(folder.id),
    }
    # Weakest first, refusals change nothing; the console's operator token before
    # the unscoped one, so that it is the one that adds and deletes under /compat/rsh.
    callers = [
        ("viewer", api.viewer, False),
        ("viewer", api.client(SCOPED["viewer"]), True),
        ("operator", api.client(SCOPED["operator"]), True),
        ("operator", api.operator, False),
        ("admin", api.admin, False),
    ]

    refused: list[str] = []
    wrongly: list[str] = []
    for method, raw_path, weakest, kwargs in MATRIX:
        path = raw_path
        for key, value in ids.items():
            path = path.replace(key, value)
        if kwargs.get("json") is RSH_FOLDER:
            kwargs = {"json": {**RSH_FOLDER, "localPath": str(inbox)}}
        anonymous = api.anonymous.request(method, path, **kwargs)
        if anonymous.status_code != 401:
            wrongly.append(f"{method} {path} without a token: {anonymous.status_code}")
        for role, client, scoped in callers:
            response = client.request(method, path, **kwargs)
            status = response.status_code
            who = f"{role}{' (scoped)' if scoped else ''}"
            if ROLES.index(role) < ROLES.index(weakest) or (
                scoped and not raw_path.startswith("/compat/rsh/")
            ):
                if status != 403:
                    wrongly.append(f"{method} {path} as {who}: {status}, expected 403")
            elif status in (401, 403) or (status >= 500 and raw_path not in CHECKS):
                refused.append(f"{method} {path} as {who}: {status} {response.text[:120]}")
    for _, client, scoped in callers:
        if scoped:
            client.close()
    assert refused == []
    assert wrongly == []
    # It should be the console's own token that added and deleted its folders.
    made = svc.audit.page(target="rsh-made") + svc.audit.page(target="spare-folder")
    changes = {(e.action, e.actor) for e in made if e.action != "job.disable"}
    assert changes - {("job.add", "alice")} == {
        ("job.add", "rsh-operator"),
        ("job.remove", "rsh-operator"),
    }
