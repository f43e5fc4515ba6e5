"""Every error is application/problem+json with a 4xx for bad input, and says
what is wrong without a stack trace."""

from __future__ import annotations

import json
from typing import Any

import httpx

from synchub.api.app import create_app
from synchub.services import Services
from tests.api.conftest import Api, Served, ok, problem


def test_nothing_but_healthz_answers_without_a_valid_token(api: Api) -> None:
    assert ok(api.anonymous.get("/healthz"))["status"] == "ok"
    for path in ("/readyz", "/api/v1/jobs", "/api/v1/runs/1", "/api/v1/task/scheduler/task-status"):
        response = api.anonymous.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
    body = problem(api.anonymous.get("/api/v1/remotes"), 401)
    assert body["type"] == "urn:synchub:problem:unauthenticated"
    assert "Authorization: Bearer" in body["detail"]
    for header in (
        "Bearer shub_forged",
        "Bearer",
        "Basic YWRtaW46YWRtaW4=",
        "shub_without_scheme",
        "Bearer " + "x" * 5000,
    ):
        response = api.anonymous.get("/api/v1/jobs", headers={"Authorization": header})
        assert response.status_code == 401, header[:40]
    # It should refuse a revoked token from the next request on.
    ok(api.viewer.get("/api/v1/jobs"))
    api.svc.tokens.revoke("viewer-vic")
    problem(api.viewer.get("/api/v1/jobs"), 401)


def test_a_weaker_role_gets_403_naming_the_role_needed(api: Api) -> None:
    body = problem(api.viewer.post("/api/v1/jobs/x/run"), 403)
    assert body["type"] == "urn:synchub:problem:forbidden"
    assert "viewer-vic" in body["detail"] and "operator" in body["detail"]


def test_service_errors_map_to_404_409_and_422(api: Api) -> None:
    body = problem(api.viewer.get("/api/v1/jobs/nope"), 404)
    assert body["type"] == "urn:synchub:problem:job-not-found"
    assert body["detail"] == "No job named 'nope'"
    ok(api.admin.post("/api/v1/remotes", json={"name": "nas", "type": "local"}), 201)
    body = problem(api.admin.post("/api/v1/remotes", json={"name": "nas", "type": "local"}), 409)
    assert body["type"] == "urn:synchub:problem:already-exists"
    body = problem(
        api.admin.post(
            "/api/v1/jobs", json={"name": "j", "kind": "scripted", "cron": "61 * * * *"}
        ),
        422,
    )
    assert body["type"] == "urn:synchub:problem:invalid-schedule"
    assert "bad minute '61'" in body["detail"]


def test_a_malformed_body_gets_422_with_field_paths_and_no_echo(api: Api) -> None:
    response = api.admin.post(
        "/api/v1/jobs", json={"name": "j", "cron": 5, "retries": "many", "tags": "x"}
    )
    body = problem(response, 422)
    assert body["type"] == "urn:synchub:problem:validation-error"
    fields = {e["field"] for e in body["errors"]}
    assert {"body.retries", "body.tags"} <= fields
    assert any(f.startswith("body.cron") for f in fields)
    # It should never send back the values given: they may be secrets.
    assert "many" not in response.text


#: Bad requests of every kind: each must get a 4xx problem, never a 5xx.
BAD_REQUESTS: list[tuple[str, str, dict[str, object]]] = [
    (
        "post",
        "/api/v1/jobs",
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
    ),
    ("post", "/api/v1/jobs", {"json": [1, 2]}),
    ("post", "/api/v1/jobs", {"json": {"name": "j", "unknown": 1}}),
    ("get", "/api/v1/runs/abc", {}),
    ("get", "/api/v1/runs/99999999999999999999999", {}),  # beyond 64 bits
    ("get", "/api/v1/runs?limit=0", {}),
    ("get", "/api/v1/runs?since=yesterday", {}),
    ("get", "/api/v1/runs?since=2025-01-01T00:00:00", {}),  # no zone
    ("get", "/api/v1/runs?since=0001-01-01T00:00:00%2B01:00", {}),  # overflows UTC
    ("get", "/api/v1/runs?cursor=garbage!", {}),
    ("get", "/api/v1/runs?state=exploded", {}),
    ("get", "/api/v1/runs?trigger=cosmic", {}),
    ("get", "/api/v1/runs/1/log?after=-1", {}),
    ("get", "/api/v1/audit?limit=5000", {}),
    ("get", "/api/v1/jobs?limit=0", {}),
    ("get", "/api/v1/jobs?limit=1001", {}),
    ("get", "/api/v1/jobs?cursor=garbage!", {}),
    ("get", "/api/v1/jobs?cursor=YWZ0ZXI6YQBi", {}),  # "after:a\0b": NUL in the name
    ("post", "/api/v1/jobs/run", {"json": {}}),  # neither names nor tag
    ("post", "/api/v1/jobs/run", {"json": {"names": ["a"], "tag": "b"}}),
    ("post", "/api/v1/schedules/validate", {"json": {"cron": "* * * * *", "count": 0}}),
    (
        "post",
        "/api/v1/schedules/validate",
        {"json": {"cron": "* * * * *", "after": "9999-12-31T23:59:59Z"}},
    ),
    ("patch", "/api/v1/jobs/x", {"json": {"manual": True, "cron": "* * * * *"}}),
    ("post", "/api/v1/jobs", {"json": {"name": "j", "kind": "scripted", "every": 10**30}}),
    ("post", "/api/v1/jobs", {"json": {"name": "j", "kind": "scripted", "timeout": "9999999w"}}),
    ("post", "/api/v1/jobs", {"json": {"name": "j", "kind": "scripted", "cron": "* " * 150}}),
    ("post", "/api/v1/tokens", {"json": {"name": "t", "expires": "99999999999w"}}),
    ("get", "/api/v1/runs/1/log?after=99999999999999999999999", {}),
    ("get", "/api/v1/jobs/" + "x" * 5000, {}),
    # Found by schemathesis (tests/api/test_schemathesis.py):
    ("get", "/api/v1/runs/1/log?after=2147483648", {}),  # seq is 32-bit in PostgreSQL
    ("get", "/api/v1/runs/1/events?after=2147483648", {}),
    ("get", "/api/v1/runs?until=0.5", {}),  # not read as Unix time: the schema says ISO
    ("post", "/api/v1/schedules/validate", {"json": {"cron": "* * * * *", "after": 0}}),
    ("post", "/api/v1/schedules/validate", {"json": {"every": False}}),  # not 0
    ("post", "/api/v1/jobs", {"json": {"name": "j", "kind": "scripted", "retries": True}}),
    ("post", "/api/v1/remotes", {"json": {"name": "r", "type": "local", "max_concurrency": "2"}}),
    ("get", "/api/v1/jobs/a%00b", {}),  # PostgreSQL text cannot hold NUL
    ("get", "/api/v1/runs?job=a%00b", {}),
    ("post", "/api/v1/jobs/run", {"json": {"names": ["a\x00b"]}}),
    (
        "post",
        "/api/v1/jobs",
        {"content": b'{"name": "\xff"}', "headers": {"content-type": "application/json"}},
    ),  # not UTF-8: 400
]


def test_bad_input_is_a_4xx_never_a_5xx(api: Api) -> None:
    for method, path, kwargs in BAD_REQUESTS:
        response = getattr(api.admin, method)(path, **kwargs)
        assert 400 <= response.status_code < 500, f"{method} {path}: {response.text}"
        assert response.headers["content-type"] == "application/problem+json", path
        assert "Traceback" not in response.text
    # It should answer unknown paths and methods with problems too.
    problem(api.admin.get("/api/v1/nothing-here"), 404)
    problem(api.admin.put("/api/v1/jobs"), 405)


def test_a_wrong_method_gets_405_naming_every_method_of_the_path(api: Api) -> None:
    # GET and POST /jobs are two routes: Starlette alone names only the first one's.
    response = api.admin.put("/api/v1/jobs")
    problem(response, 405)
    assert response.headers["allow"] == "GET, POST"
    assert api.admin.put("/api/v1/jobs/x").headers["allow"] == "DELETE, GET, PATCH"
    assert api.admin.get("/api/v1/jobs/x/run").headers["allow"] == "POST"
    # /remotes/import is the path of its own operation, not a remote named import.
    assert api.admin.put("/api/v1/remotes/import").headers["allow"] == "POST"


def test_a_body_over_the_limit_gets_413_before_it_is_read(api: Api) -> None:
    big = b"[r]\ntype = local\n" + b"#" * (1024 * 1024)
    body = problem(api.admin.post("/api/v1/remotes/import", content=big), 413)
    assert "larger than" in body["detail"]

    # It should also stop a chunked upload that declares no length.
    def chunks() -> object:
        for _ in range(40):
            yield b"#" * 65536

    response = api.admin.post("/api/v1/remotes/import", content=chunks())  # type: ignore[arg-type]
    problem(response, 413)
    assert ok(api.admin.get("/api/v1/remotes"))["count"] == 0


def test_cors_is_off_by_default_and_on_for_listed_origins(svc: Services) -> None:
    origin = "https://console.example"
    preflight = {
        "Origin": origin,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization",
    }
    served = Served(create_app(svc=svc))
    try:
        response = httpx.options(f"{served.url}/api/v1/jobs", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    finally:
        served.stop()
    svc.settings = svc.settings.model_copy(update={"cors_origins": [origin]})
    served = Served(create_app(svc=svc))
    try:
        response = httpx.options(f"{served.url}/api/v1/jobs", headers=preflight)
        assert response.headers["access-control-allow-origin"] == origin
        response = httpx.options(
            f"{served.url}/api/v1/jobs", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in response.headers
    finally:
        served.stop()


def test_every_list_filter_given_empty_is_a_422_the_schema_promises(
    api: Api, openapi: dict[str, Any]
) -> None:
    """`GET /api/v1/runs?state=` answered 200 (every run) though the schema said no
    such value; each filter of every list now refuses an empty value, as its schema
    says. The compat layers keep the wire behaviour of the systems they replace."""
    ok(api.admin.post("/api/v1/jobs", json={"name": "j", "kind": "scripted"}), 201)
    checked = []
    for path, operations in openapi["paths"].items():
        get = operations.get("get")
        if get is None or not path.startswith("/api/v1/") or "{run_id}" in path:
            continue
        for parameter in get.get("parameters", ()):
            schema = parameter["schema"]
            if parameter["in"] != "query" or "string" not in json.dumps(schema):
                continue
            url = path.replace("{name}", "j")
            body = problem(api.viewer.get(url, params={parameter["name"]: ""}), 422)
            fields = [e["field"].removesuffix(".0") for e in body["errors"]]
            assert fields == [f"query.{parameter['name']}"], url
            said = json.dumps(schema)
            assert any(
                rule in said for rule in ('"minLength": 1', "pattern", "date-time", "enum")
            ), url
            checked.append(f"{url}?{parameter['name']}=")
    assert {"/api/v1/runs?state=", "/api/v1/runs?trigger=", "/api/v1/jobs?tag="} <= set(checked)
    # It should name the values a state filter takes.
    body = problem(api.viewer.get("/api/v1/runs", params={"state": "failed,"}), 422)
    assert "use one or more of pending, queued" in body["errors"][0]["message"]
