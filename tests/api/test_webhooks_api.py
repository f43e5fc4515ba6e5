"""Over HTTP: webhook hooks set by an admin without command jobs allowed, shown by
their URL's hint only, refused (403) for an operator or a viewer, 422 when bad."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, ok, problem

#: Never answered: the API only seals and shows it.
URL = "https://hooks.example.org/t0ken-s3cret-path"


def job(name: str, **extra: object) -> dict[str, object]:
    params = {"op": "copy", "source": "/srv", "destination": "/backup"}
    return {"name": name, "kind": "rclone", "params": params, **extra}


def test_an_admin_sets_a_webhook_and_the_api_shows_its_hint_only(api: Api) -> None:
    hooks = {"after": [{"url": URL, "timeout": "10s", "on_error": "fail"}]}
    made = ok(api.admin.post("/api/v1/jobs", json=job("x", hooks=hooks)), 201)
    hint = {"url": "https://hooks.example.org/…", "timeout_s": 10, "on_error": "fail"}
    assert made["hooks"] == {"after": [hint]}
    for body in (api.admin.get("/api/v1/jobs/x").text, api.admin.get("/api/v1/jobs").text):
        assert "t0ken" not in body
    # It should keep the URL when a job's hooks are sent back as shown.
    edited = ok(api.admin.patch("/api/v1/jobs/x", json={"hooks": made["hooks"], "retries": 2}))
    assert edited["hooks"] == {"after": [hint]}


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_others_cannot_set_a_webhook(api: Api, role: str) -> None:
    ok(api.admin.post("/api/v1/jobs", json=job("x")), 201)
    hooks = {"before": [{"url": URL}]}
    problem(getattr(api, role).patch("/api/v1/jobs/x", json={"hooks": hooks}), 403)
    problem(getattr(api, role).post("/api/v1/jobs", json=job("y", hooks=hooks)), 403)
    assert ok(api.admin.get("/api/v1/jobs/x"))["hooks"] == {}


@pytest.mark.parametrize(
    ("hook", "detail"),
    [
        ({"url": "file:///etc/passwd"}, "http:// or https://"),
        ({"url": "https://"}, "with a host"),
        ({"url": URL, "command": ["/bin/true"]}, "either command"),
        ({"url": URL, "timeout": "7h"}, "timeout must be"),
        ({"url_sealed": "gAAAA", "url_hint": "https://h/…"}, "give url"),
    ],
)
def test_bad_webhooks_are_a_422_and_change_nothing(
    api: Api, hook: dict[str, object], detail: str
) -> None:
    body = problem(api.admin.post("/api/v1/jobs", json=job("x", hooks={"after": [hook]})), 422)
    assert detail in body["detail"] and "t0ken" not in str(body)
    assert ok(api.admin.get("/api/v1/jobs"))["data"] == []
