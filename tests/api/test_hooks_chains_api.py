"""Over HTTP: a job's `hooks` and `after` fields, who may set them, what a bad one
answers (422 naming it, nothing changed), and removing a job others run after."""

from __future__ import annotations

import sys

import pytest

from tests.api.conftest import Api, ok, problem
from tests.api.test_console import sign_in

HOOK = {"command": [sys.executable, "-c", "pass"], "timeout": "30s", "on_error": "fail"}


def job(name: str, **extra: object) -> dict[str, object]:
    argv = [sys.executable, "-c", "pass"]
    return {"name": name, "kind": "command", "params": {"argv": argv}, **extra}


def test_an_admin_sets_hooks_and_links_and_jobs_show_them_both_ways(
    api_allowing_commands: Api,
) -> None:
    ok(
        api_allowing_commands.admin.post("/api/v1/jobs", json=job("up", hooks={"before": [HOOK]})),
        201,
    )
    down = ok(
        api_allowing_commands.admin.post("/api/v1/jobs", json=job("down", after=["up:always"])), 201
    )
    assert down["after"] == [{"job": "up", "on": "always"}]
    up = ok(api_allowing_commands.admin.get("/api/v1/jobs/up"))
    assert up["hooks"] == {
        "before": [{"command": HOOK["command"], "timeout_s": 30, "on_error": "fail"}]
    }
    assert up["chained_by"] == [{"job": "down", "on": "always"}]
    # It should remove them with null on an edit.
    edited = ok(api_allowing_commands.admin.patch("/api/v1/jobs/up", json={"hooks": None}))
    assert edited["hooks"] == {}
    assert (
        ok(api_allowing_commands.admin.patch("/api/v1/jobs/down", json={"after": None}))["after"]
        == []
    )


def test_hooks_are_a_422_where_command_jobs_are_off(api: Api) -> None:
    body = problem(api.admin.post("/api/v1/jobs", json=job("x", hooks={"before": [HOOK]})), 422)
    assert "SYNCHUB_ALLOW_COMMAND_JOBS" in body["detail"]
    assert ok(api.admin.get("/api/v1/jobs"))["data"] == []


def test_an_operator_cannot_set_hooks(api_allowing_commands: Api) -> None:
    ok(api_allowing_commands.admin.post("/api/v1/jobs", json=job("x")), 201)
    problem(
        api_allowing_commands.operator.patch("/api/v1/jobs/x", json={"hooks": {"before": [HOOK]}}),
        403,
    )
    assert ok(api_allowing_commands.admin.get("/api/v1/jobs/x"))["hooks"] == {}


@pytest.mark.parametrize(
    ("extra", "field", "detail"),
    [
        ({"hooks": {"before": [{"command": ["rm"]}]}}, "hooks", "absolute path"),
        ({"hooks": {"sometime": [HOOK]}}, "hooks", "unknown event"),
        ({"hooks": {"before": [{**HOOK, "on_error": "ignore"}]}}, "hooks", "continue or fail"),
        ({"after": ["ghost"]}, "after", "no job named 'ghost'"),
        ({"after": ["y"]}, "after", "cycle of jobs, y -> y"),
        ({"after": ["x:maybe"]}, "after", "not success, failure or always"),
    ],
)
def test_bad_hooks_and_links_are_a_422_naming_them_and_change_nothing(
    api_allowing_commands: Api, extra: dict[str, object], field: str, detail: str
) -> None:
    ok(api_allowing_commands.admin.post("/api/v1/jobs", json=job("x")), 201)
    ok(api_allowing_commands.admin.post("/api/v1/jobs", json=job("y")), 201)
    before = ok(api_allowing_commands.admin.get("/api/v1/jobs/y"))
    body = problem(api_allowing_commands.admin.patch("/api/v1/jobs/y", json=extra), 422)
    assert detail in body["detail"]
    assert field in str(body)
    assert ok(api_allowing_commands.admin.get("/api/v1/jobs/y")) == {
        **before,
        "next_fires": before["next_fires"],
    }


def test_removing_a_job_others_run_after_is_a_409_naming_them(api_allowing_commands: Api) -> None:
    ok(api_allowing_commands.admin.post("/api/v1/jobs", json=job("up")), 201)
    ok(api_allowing_commands.admin.post("/api/v1/jobs", json=job("down", after=["up"])), 201)
    body = problem(api_allowing_commands.admin.delete("/api/v1/jobs/up"), 409)
    assert "down run after it" in body["detail"]
    ok(api_allowing_commands.admin.get("/api/v1/jobs/up"))


def test_the_console_job_page_shows_hooks_and_the_chain_both_ways(
    api_allowing_commands: Api,
) -> None:
    ok(
        api_allowing_commands.admin.post("/api/v1/jobs", json=job("up", hooks={"finally": [HOOK]})),
        201,
    )
    ok(
        api_allowing_commands.admin.post("/api/v1/jobs", json=job("down", after=["up:failure"])),
        201,
    )
    client = sign_in(api_allowing_commands, "viewer")
    up = client.get("/jobs/up").text
    assert "Followed by</dt>" in up and '<a href="/jobs/down">down</a> (on failure)' in up
    assert "Hook finally</dt>" in up and "on error fail" in up
    down = client.get("/jobs/down").text
    assert '<a href="/jobs/up">up</a> (failure)' in down
