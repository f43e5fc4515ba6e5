"""Credentials rclone's metadata does not mark are masked in every view, and no
error answer quotes a secret value the request carried."""

from __future__ import annotations

import json

from tests.api.conftest import Api, ok, problem

IBM_KEY = "ibm-api-key-Ru31aWq"
HEADER = "Authorization,Bearer dav-header-token-Xe90"
MASK = "********"


def test_credentials_the_metadata_misses_are_masked_for_every_reader(api: Api) -> None:
    """On main `ibm_api_key` and `headers` were shown to viewers in plain text."""
    ok(api.admin.post("/api/v1/remotes", json={
        "name": "cos", "type": "s3",
        "options": {"provider": "IBMCOS", "ibm_api_key": IBM_KEY},
    }), 201)  # fmt: skip
    ok(api.admin.post("/api/v1/remotes", json={
        "name": "dav", "type": "webdav",
        "options": {"url": "http://127.0.0.1:9/", "headers": HEADER},
    }), 201)  # fmt: skip
    ok(api.admin.patch("/api/v1/remotes/dav", json={"options": {"headers": HEADER + "2"}}))

    listed = ok(api.viewer.get("/api/v1/remotes"))
    assert {r["name"]: r["options"] for r in listed["data"]} == {
        "cos": {"ibm_api_key": MASK, "provider": "IBMCOS"},
        "dav": {"headers": MASK, "url": "http://127.0.0.1:9/"},
    }
    audit = ok(api.viewer.get("/api/v1/audit", params={"limit": 100}))
    edit = next(e for e in audit["data"] if e["action"] == "remote.edit")
    assert edit["after"]["secrets_changed"] == ["headers"]
    seen = json.dumps([listed, ok(api.viewer.get("/api/v1/remotes/dav")), audit])
    assert IBM_KEY not in seen and "dav-header-token" not in seen


def test_no_error_answer_quotes_a_secret_the_request_carried(api: Api) -> None:
    secret = "never-echo-Bn64pLm"
    bad_requests = [
        # a value of the wrong JSON type, next to the secret
        ("POST", "/api/v1/remotes", {"json": {
            "name": "x", "type": "sftp", "options": {"host": "h", "pass": secret, "port": 22},
        }}),
        # a field the schema does not have
        ("POST", "/api/v1/remotes", {"json": {
            "name": "x", "type": "sftp", "options": {"pass": secret}, "extra": secret,
        }}),
        # the secret where a bool or an int belongs, or under an unknown option
        ("POST", "/api/v1/remotes", {"json": {
            "name": "x", "type": "sftp", "options": {"host": "h", "use_insecure_cipher": secret},
        }}),
        ("POST", "/api/v1/remotes", {"json": {
            "name": "x", "type": "sftp", "options": {"host": "h", "port": secret},
        }}),
        ("POST", "/api/v1/remotes", {"json": {
            "name": "x", "type": "nosuchtype", "options": {"pass": secret},
        }}),
        # not JSON at all
        ("POST", "/api/v1/remotes", {
            "content": '{"name": "x", "options": {"pass": "' + secret + '"',
            "headers": {"Content-Type": "application/json"},
        }),
        ("PATCH", "/api/v1/remotes/none", {"json": {"options": {"pass": 5, "x": secret}}}),
        # an rclone.conf line without "="
        ("POST", "/api/v1/remotes/import", {
            "content": f"[s]\ntype = s3\nsecret_access_key {secret}\n",
        }),
    ]  # fmt: skip
    for method, path, kwargs in bad_requests:
        answer = api.admin.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert 400 <= answer.status_code < 500, answer.text
        assert secret not in answer.text, answer.text
    line = problem(
        api.admin.post(
            "/api/v1/remotes/import", content=f"[s]\ntype = s3\nsecret_access_key {secret}\n"
        ),
        422,
    )
    assert line["detail"].endswith("line 3: option 'secret_access_key' has no '=' before its value")
    assert ok(api.viewer.get("/api/v1/remotes"))["count"] == 0
