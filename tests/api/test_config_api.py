"""/api/v1/config: an admin applies a file (YAML or JSON) and exports one; every
problem answers 422 naming its line, and then nothing changes."""

from __future__ import annotations

import json

from tests.api.conftest import Api, ok, problem

YAML = {"content-type": "application/yaml"}

FILE = (
    "version: 1\n"
    "remotes:\n"
    "  nas: {type: local}\n"
    "jobs:\n"
    "  photos:\n"
    "    params: {source: /srv/photos, destination: 'nas:/photos'}\n"
    "    cron: 0 2 * * *\n"
)


def test_an_admin_applies_a_file_and_others_may_not(api: Api) -> None:
    url = "/api/v1/config/apply"
    problem(api.operator.post(url, content=FILE, headers=YAML), 403)
    problem(api.anonymous.get("/api/v1/config/export"), 401)

    planned = ok(api.admin.post(url, params={"dry_run": "true"}, content=FILE, headers=YAML))
    assert (planned["dry_run"], planned["changed"]) == (True, False)
    assert [(s["action"], s["kind"], s["name"]) for s in planned["plan"]] == [
        ("create", "remote", "nas"),
        ("create", "job", "photos"),
    ]
    assert ok(api.admin.get("/api/v1/remotes"))["count"] == 0

    applied = ok(api.admin.post(url, content=FILE, headers=YAML))
    assert applied["changed"] is True and applied["sha256"] == planned["sha256"]
    assert ok(api.admin.get("/api/v1/jobs/photos"))["schedule"]["cron"] == "0 2 * * *"
    # It should change nothing the second time.
    again = ok(api.admin.post(url, content=FILE, headers=YAML))
    assert (again["changed"], again["plan"]) == (False, [])

    exported = api.admin.get("/api/v1/config/export", params={"section": "jobs"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/yaml")
    assert "photos:" in exported.text and "remotes:" not in exported.text
    audit = ok(api.admin.get("/api/v1/audit", params={"action": "config.apply"}))
    assert [e["after"]["config_sha256"] for e in audit["data"]] == [applied["sha256"]]


def test_the_same_file_as_json_is_applied_alike(api: Api) -> None:
    body = {
        "remotes": {"nas": {"type": "local"}},
        "jobs": {"j": {"params": {"source": "/a", "destination": "nas:/b"}, "every": 900}},
    }
    applied = ok(api.admin.post("/api/v1/config/apply", content=json.dumps(body),
                                headers={"content-type": "application/json"}))  # fmt: skip
    assert len(applied["plan"]) == 2
    assert ok(api.admin.get("/api/v1/jobs/j"))["schedule"]["every_s"] == 900


def test_a_bad_file_answers_422_naming_each_line_and_changes_nothing(api: Api) -> None:
    bad = FILE.replace("cron: 0 2 * * *", "cron: 0 25 * * *") + "    colour: blue\n"
    body = problem(api.admin.post("/api/v1/config/apply", content=bad, headers=YAML), 422)
    assert body["type"] == "urn:synchub:problem:config-invalid"
    assert [e["field"] for e in body["errors"]] == ["jobs.photos.colour"]
    assert body["errors"][0]["message"].startswith("line 8: jobs.photos.colour: unknown key")
    bad = FILE.replace("cron: 0 2 * * *", "cron: 0 25 * * *")
    body = problem(api.admin.post("/api/v1/config/apply", content=bad, headers=YAML), 422)
    assert body["errors"][0]["message"].startswith("line 7: jobs.photos.cron: ")
    malformed = problem(
        api.admin.post("/api/v1/config/apply", content="jobs: [\n", headers=YAML), 422
    )
    assert "line 2: malformed YAML" in malformed["detail"]
    assert ok(api.admin.get("/api/v1/remotes"))["count"] == 0
