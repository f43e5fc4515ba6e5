"""Text that cannot be stored is refused at the door, and a row that holds it anyway
never breaks a listing (the text rule: synchub/core/text.py).

On main before this rule, `PATCH /remotes/s3x {"options": {"endpoint": "\\ud800"}}`
was saved (the answer itself was a 500), and from then on GET /remotes and /audit
answered 500 for everyone, on SQLite and PostgreSQL alike. Every test here but the
one on multi-line fields failed there (checked against main's code): the option
values, cron, paths, filters and queries of DOORS were saved or searched for, the
console's query parser answered 500 for a surrogate, the rows written straight into
the database broke their listings, and the names among DOORS were refused only as
bad names (422 invalid-name), not as text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import text

from synchub.services.jobs.fields import JobFields
from synchub.store.db import transaction
from tests.api.conftest import Api, ok, problem

#: The JSON escape of a lone surrogate, as a client sends it: json.dumps writes it.
SURROGATE = "\ud800"
JSON = {"content-type": "application/json"}


def raw_json(body: Any) -> dict[str, Any]:
    """Request arguments sending `body` as JSON text with \\uXXXX escapes, which is how
    a lone surrogate travels (httpx's own encoder would fail on it)."""
    return {"content": json.dumps(body).encode(), "headers": JSON}


def state(api: Api) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    admin = api.admin
    # A token's last use is written by a thread of its own, whenever: not compared.
    tokens = [
        {k: v for k, v in token.items() if k != "last_used_at"}
        for token in ok(admin.get("/api/v1/tokens"))["data"]
    ]
    return (
        ok(admin.get("/api/v1/remotes")),
        ok(admin.get("/api/v1/jobs")),
        tokens,
        ok(admin.get("/api/v1/audit"))["count"],
    )


def seed(api: Api) -> None:
    api.svc.remotes.add("s3x", "s3", {"provider": "AWS"})
    api.svc.remotes.add("nas", "local", {})
    api.svc.jobs.add("photos", JobFields(kind="scripted", params={"remotes": ["nas"]}))


def test_a_lone_surrogate_in_an_option_is_refused_and_listings_keep_working(api: Api) -> None:
    seed(api)
    before = state(api)
    response = api.admin.patch(
        "/api/v1/remotes/s3x", **raw_json({"options": {"endpoint": SURROGATE}})
    )
    body = problem(response, 422)
    assert body["type"] == "urn:synchub:problem:invalid-text"
    assert body["detail"] == (
        "body.options.endpoint is not valid UTF-8 text (it holds the lone surrogate U+D800)"
    )
    # It should have stored nothing, and every listing should answer everyone.
    assert state(api) == before
    for client in (api.viewer, api.operator, api.admin):
        for path in ("/api/v1/remotes", "/api/v1/jobs", "/api/v1/audit", "/api/v1/runs"):
            ok(client.get(path))


#: Bad text at each door: (method, path, request arguments, what the answer names).
DOORS: list[tuple[str, str, dict[str, Any], str]] = [
    # Bodies: values, keys, nested, in lists.
    ("post", "/api/v1/remotes",
     raw_json({"name": "r", "type": "s3", "options": {"endpoint": SURROGATE}}),
     "body.options.endpoint"),
    ("post", "/api/v1/remotes",
     raw_json({"name": "r", "type": "s3", "options": {SURROGATE: "x"}}), "a key of body.options"),
    ("post", "/api/v1/remotes",
     raw_json({"name": "r", "type": "s3", "options": {"endpoint": "a\x00b"}}),
     "body.options.endpoint"),
    ("post", "/api/v1/remotes",
     raw_json({"name": "r", "type": "s3", "options": {"endpoint": "http://x\n"}}),
     "body.options.endpoint"),
    ("patch", "/api/v1/remotes/nas", raw_json({"options": {"copy_links": "\x1b[2J"}}),
     "body.options.copy_links"),
    ("post", "/api/v1/jobs",
     raw_json({"name": "j", "kind": "scripted", "cron": "0\t2 * * *"}), "body.cron"),
    ("post", "/api/v1/jobs",
     raw_json({"name": "j", "params": {"op": "copy", "source": "nas:/a\nb",
                                       "destination": "nas:/c"}}), "body.params.source"),
    ("post", "/api/v1/jobs",
     raw_json({"name": "j", "params": {"op": "copy", "source": "nas:/a",
                                       "destination": "nas:/c", "filters": ["- \x1b*"]}}),
     "body.params.filters[0]"),
    ("post", "/api/v1/jobs",
     raw_json({"name": "j", "kind": "scripted", "tags": ["a\x00"]}), "body.tags[0]"),
    ("post", "/api/v1/jobs",  # a multi-line field still holds no NUL
     raw_json({"name": "j", "kind": "scripted", "params": {"argv": ["a\x00"]}}),
     "body.params.argv[0]"),
    ("patch", "/api/v1/jobs/photos",
     raw_json({"params": {"remotes": [SURROGATE]}}), "body.params.remotes[0]"),
    ("post", "/api/v1/jobs/run", raw_json({"names": [SURROGATE]}), "body.names[0]"),
    ("post", "/api/v1/tokens", raw_json({"name": "t\u2028"}), "body.name"),
    ("post", "/api/v1/schedules/validate",
     raw_json({"cron": "* * * * *", "tz": "UTC\r"}), "body.tz"),
    # The UTF-8 bytes of a surrogate, which Python's JSON decoder lets through.
    ("post", "/api/v1/jobs",
     {"content": b'{"name": "j", "kind": "scripted", "tags": ["\xed\xa0\x80"]}', "headers": JSON},
     "body.tags[0]"),
    # Query strings and path parameters.
    ("get", "/api/v1/jobs?tag=a%00b", {}, "query.tag"),
    ("get", "/api/v1/jobs?search=%1b%5b2J", {}, "query.search"),
    ("get", "/api/v1/runs?job=a%09b", {}, "query.job"),
    ("get", "/api/v1/audit?actor=%c2%9b", {}, "query.actor"),  # U+009B, a C1 control
    ("get", "/api/v1/jobs/a%0ab", {}, "path.name"),
    ("delete", "/api/v1/remotes/nas%00", {}, "path.name"),
    # rclone.conf as the import body: the file, then each name, key and value.
    ("post", "/api/v1/remotes/import", {"content": b"[a]\ntype = local\n# \x00\n"}, "body"),
    ("post", "/api/v1/remotes/import",
     {"content": b"[a]\ntype = local\ncopy_links = tr\tue\n"},
     "the value of 'copy_links' in [a]"),
    ("post", "/api/v1/remotes/import", {"content": b"[a\tb]\ntype = local\n"},
     "the name of section 1"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "kwargs", "where"), DOORS)
def test_bad_text_at_each_door_is_a_422_naming_the_field_and_changes_nothing(
    api: Api, method: str, path: str, kwargs: dict[str, Any], where: str
) -> None:
    seed(api)
    before = state(api)
    body = problem(getattr(api.admin, method)(path, **kwargs), 422)
    assert body["type"] == "urn:synchub:problem:invalid-text"
    assert body["detail"].startswith(where + " "), body["detail"]
    assert state(api) == before


def test_the_compatibility_layers_refuse_bad_text_in_their_own_shapes(api: Api) -> None:
    seed(api)
    before = state(api)
    celery = "/api/v1/task/scheduler"
    # It should answer the Celery scheduler's clients in their envelope.
    for response in (
        api.admin.post(f"{celery}/validate-cron", **raw_json("* * * * *\x00")),
        api.admin.post(f"{celery}/validate-cron", **raw_json(SURROGATE)),
        api.admin.post(f"{celery}/execute-sync/photos%01"),
        api.admin.get(f"{celery}/task-result/1%1b"),
    ):
        assert response.status_code == 422, response.text
        envelope = response.json()
        assert envelope["code"] == 422 and envelope["data"] is None
        assert "control character" in envelope["msg"] or "surrogate" in envelope["msg"]
    # It should answer the rclone-sync-hub console with {"message": ...}: 422 for a
    # body or a parameter, 400 (its query parser's status) for its query's JSON.
    rsh = "/compat/rsh"
    folder = {"syncType": "local", "name": "f", "origin": "nas", "localPath": "/tmp\x00"}
    for response, status in (
        (api.admin.post(f"{rsh}/folders/", **raw_json(folder)), 422),
        (api.admin.put(f"{rsh}/tasks/1", **raw_json({"status": 0, "x": SURROGATE})), 422),
        (api.admin.get(f"{rsh}/folders/tree", params={"path": "/\x1b"}), 422),
        (api.admin.get(f"{rsh}/tasks/", params={"query": '{"fileName": "\\u0000"}'}), 400),
        (api.admin.get(f"{rsh}/folders/", params={"query": '{"name": "\\ud800"}'}), 400),
        (api.admin.get(f"{rsh}/tasks/", params={"query": '{"name": {"$regex": "\\ud800"}}'}), 400),
        (api.admin.get(f"{rsh}/origins/list", params={"query": '{"name": "\\u001b"}'}), 422),
    ):
        assert response.status_code == status, response.text
        assert set(response.json()) == {"message"}
        assert "not valid UTF-8 text" in response.text or "control character" in response.text
    assert state(api) == before


def test_tabs_and_line_breaks_pass_where_a_field_spans_lines(api: Api) -> None:
    # A command's argv items and env values may span lines (the scripted kind keeps
    # neither, but the request passes the door).
    params = {"argv": ["sh", "-c", "echo a\n\techo b\r\n"], "env": {"PEM": "-----\nx\n-----"}}
    ok(
        api.admin.post("/api/v1/jobs", json={"name": "j", "kind": "scripted", "params": params}),
        201,
    )
    # An rclone.conf has lines, CRLF ones too, and tabs around its `=`.
    conf = "[a]\r\ntype\t=\tlocal\r\n\r\n[b]\ntype = local\n"
    ok(api.admin.post("/api/v1/remotes/import", content=conf.encode()), 201)
    # Text beyond ASCII is text: it passes.
    ok(
        api.admin.patch(
            "/api/v1/remotes/a", json={"options": {"description": "Fotos \u00e9\U0001f4f7"}}
        )
    )
    assert ok(api.viewer.get("/api/v1/remotes/a"))["options"]["description"] == "Fotos é📷"


#: Rows written straight into the database, holding what no door lets in: the JSON
#: escape of a lone surrogate in JSON columns (SQLite and PostgreSQL's json both keep
#: it), controls in text columns. {name} is a JSON parameter, :name a text one.
BAD_ROWS: list[tuple[str, dict[str, str]]] = [
    ("UPDATE remotes SET options = {o} WHERE name = 's3x'",
     {"o": '{"provider": "AWS", "endpoint": "\\ud800x", "\\udfff": "\\u0000"}'}),
    ("UPDATE jobs SET params = {p}, tags = {t}",
     {"p": '{"remotes": ["nas"], "note": "\\udc80"}', "t": '["\\ud800"]'}),
    ("UPDATE audit_events SET after = {a}", {"a": '{"options": {"endpoint": "\\ud800"}}'}),
    ("UPDATE runs SET error = :e, progress = {p}",
     {"e": "boom \x1b[31mred\x07", "p": '{"file": "\\ud800"}'}),
]  # fmt: skip


def write_straight(api: Api) -> None:
    postgresql = not api.svc.settings.db_url.startswith("sqlite")
    with transaction(api.svc.sessions) as session:
        for statement, values in BAD_ROWS:
            cast = {k: f"CAST(:{k} AS json)" if postgresql else f":{k}" for k in values}
            session.execute(text(statement.format(**cast)), values)


def test_a_row_holding_bad_text_never_breaks_a_listing(api: Api) -> None:
    seed(api)
    run_id = api.svc.runs.request("photos")
    write_straight(api)
    # It should answer every listing and show, with U+FFFD for each lone surrogate.
    remotes = ok(api.viewer.get("/api/v1/remotes"))["data"]
    s3x = next(r for r in remotes if r["name"] == "s3x")
    assert s3x["options"] == {"provider": "AWS", "endpoint": "\ufffdx", "\ufffd": "\x00"}
    assert ok(api.viewer.get("/api/v1/remotes/s3x"))["options"]["endpoint"] == "\ufffdx"
    (job,) = ok(api.viewer.get("/api/v1/jobs"))["data"]
    assert job["tags"] == ["\ufffd"]
    ok(api.viewer.get("/api/v1/jobs/photos"))
    audit = ok(api.viewer.get("/api/v1/audit"))["data"]
    assert any(e["after"] == {"options": {"endpoint": "\ufffd"}} for e in audit)
    (run,) = ok(api.viewer.get("/api/v1/runs"))["data"]
    assert run["error"] == "boom \x1b[31mred\x07"  # JSON escapes controls itself
    ok(api.viewer.get(f"/api/v1/runs/{run_id}"))
    ok(api.viewer.get("/compat/rsh/rclone/list"))
    ok(api.viewer.get("/api/v1/task/scheduler/task-status"))
    # It should let an admin repair the row.
    repair = {"options": {"endpoint": None, "\ufffd": None}}
    ok(api.admin.patch("/api/v1/remotes/s3x", json=repair))
    assert ok(api.viewer.get("/api/v1/remotes/s3x"))["options"] == {"provider": "AWS"}


def test_every_operation_checks_its_text_and_documents_the_422(
    api: Api, openapi: dict[str, Any]
) -> None:
    """Walks the OpenAPI document with a control character in each path parameter, or
    in a query where there is none: a route added tomorrow is checked too, because the
    check sits on the app's router, not on each route."""
    walked = 0
    for path, item in openapi["paths"].items():
        probe = re.sub(r"\{[^}]+\}", "a%01", path) if "{" in path else path + "?probe=%01"
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            walked += 1
            response = api.admin.request(method.upper(), probe)
            assert response.status_code == 422, (method, path, response.text)
            assert "U+0001" in response.text, (method, path, response.text)
            # It should say so in the document, in the path's own error shape.
            media_type = response.headers["content-type"].split(";")[0]
            assert set(operation["responses"]["422"]["content"]) == {media_type}, (method, path)
    assert walked > 40


def test_bad_text_is_refused_before_the_token_is_looked_at(api: Api) -> None:
    # The answer says what is wrong with the text, and nothing about the server.
    body = problem(api.anonymous.get("/api/v1/jobs?tag=%00"), 422)
    assert body["detail"] == (
        "query.tag holds the control character U+0000; it must be one line of text"
    )
