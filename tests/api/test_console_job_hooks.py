"""The job form's settings the CLI and the API have beside the basics: alert
thresholds, retention, chains and hooks (commands and webhooks), each checked by
the services, each refusal beside its input with nothing saved."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from synchub.config import Settings
from synchub.core.chains import ChainOn
from synchub.services.jobs.fields import JobFields
from synchub.services.jobs.job_views import ChainLink, HookView
from synchub.store import jobs as job_store
from synchub.store.db import reading
from tests.api.conftest import Api
from tests.api.test_console import csrf_of, sign_in
from tests.api.test_console_forms import disk, error_of, job_form, value_of

__all__ = ["disk"]  # the fixture, used by name

MOUNT = '["/usr/local/bin/mount-nas", "/mnt/nas"]'
WEBHOOK = "https://hooks.example.org/page/s3cret-t0ken"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_command_jobs": True})


def hook(row: int, target: str, event: str = "before", timeout: str = "",
         on_error: str = "continue") -> dict[str, str]:  # fmt: skip
    return {f"hook.{row}.event": event, f"hook.{row}.target": target,
            f"hook.{row}.timeout": timeout, f"hook.{row}.on_error": on_error}  # fmt: skip


def stored_hooks(api: Api) -> Any:
    with reading(api.svc.sessions) as session:
        row = job_store.get(session, "photos")
        assert row is not None
        return dict(row.hooks)


def post(client: httpx.Client, path: str, tmp: Path, **changes: Any) -> httpx.Response:
    csrf = csrf_of(client.get("/jobs/new"))
    extra = changes.pop("rows", {})
    return client.post(path, data={"csrf": csrf, **job_form(tmp, **changes), **extra})


def test_the_form_has_the_thresholds_retention_chains_and_hook_rows(api: Api, disk: Path) -> None:
    page = sign_in(api, "admin").get("/jobs/new").text
    for label in ("Stale after", "Long after", "Keep runs", "Keep logs", "Run after"):
        assert f">{label}</label>" in page, label
    # Two blank rows, each input labelled for a screen reader.
    assert len(re.findall(r'<tr data-hook-row="\d+">', page)) == 2
    assert '<label class="sr" for="f-hook-1-target">Command or URL of hook 2</label>' in page


def test_every_new_setting_is_saved_as_the_api_saves_it_and_shown(api: Api, disk: Path) -> None:
    client = sign_in(api, "admin")
    rows = {**hook(0, MOUNT, timeout="5m", on_error="fail"),
            **hook(1, WEBHOOK, event="on_failure"), **hook(2, "", event="after")}  # fmt: skip
    answer = post(
        client, "/jobs/new", disk, after="docs:failure", stale_after="2d", long_after="3h",
        keep_runs="500", keep_logs="14d", rows=rows,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    job = api.svc.jobs.show("photos")
    assert job.after == [ChainLink("docs", ChainOn.FAILURE)]
    assert (job.stale_after_s, job.long_after_s) == (2 * 86400, 3 * 3600)
    assert (job.keep_runs, job.keep_logs) == ("500", "14d")
    assert job.hooks == {
        "before": [HookView(["/usr/local/bin/mount-nas", "/mnt/nas"], None, 300, "fail")],
        "on_failure": [HookView(None, "https://hooks.example.org/…", 60, "continue")],
    }
    page = client.get("/jobs/photos").text
    assert "s3cret" not in page and "POST <code>https://hooks.example.org/…</code>" in page
    assert "<dt>Stale after</dt><dd>2d</dd>" in page and "<dt>Keep runs</dt><dd>500</dd>" in page
    # The edit form shows them; the webhook by its hint, never its URL.
    edit = client.get("/jobs/photos/edit")
    assert "s3cret" not in edit.text
    assert value_of(edit, "hook.0.target") == MOUNT
    assert value_of(edit, "hook.1.target") == "https://hooks.example.org/…"
    assert value_of(edit, "after") == "docs:failure" and value_of(edit, "keep_logs") == "14d"
    assert len(re.findall(r'<tr data-hook-row="\d+">', edit.text)) == 4  # two, two blank


def test_an_edit_sent_back_as_shown_keeps_every_setting_and_the_webhooks_url(
    api: Api, disk: Path
) -> None:
    client = sign_in(api, "admin")
    answer = post(client, "/jobs/new", disk, after="docs", stale_after="2d",
                  rows={**hook(0, MOUNT), **hook(1, WEBHOOK, event="finally")})  # fmt: skip
    assert answer.status_code == 303, answer.text
    before, sealed = api.svc.jobs.show("photos"), stored_hooks(api)
    edit = client.get("/jobs/photos/edit")
    shown = dict(re.findall(r'name="([^"]+)" type="text" value="([^"]*)"', edit.text))
    rows = {k: html.unescape(v) for k, v in shown.items() if k.startswith("hook.")}
    for i in range(4):
        selected = re.search(rf'name="hook\.{i}\.event">.*?value="(\w+)" selected', edit.text)
        rows[f"hook.{i}.event"] = selected.group(1) if selected else "before"
    answer = post(client, "/jobs/photos/edit", disk, after="docs:success", stale_after="2d",
                  rows=rows)  # fmt: skip
    assert answer.status_code == 303, answer.text
    assert api.svc.jobs.show("photos").hooks == before.hooks
    assert stored_hooks(api) == sealed  # the same sealed URL: nothing was changed
    # Emptying the rows and the link removes them; blank thresholds derive them again.
    cleared = {**hook(0, ""), **hook(1, "", event="finally")}
    answer = post(client, "/jobs/photos/edit", disk, after="", stale_after="", rows=cleared)
    assert answer.status_code == 303, answer.text
    job = api.svc.jobs.show("photos")
    assert (job.hooks, job.after, job.stale_after_s) == ({}, [], None)


REFUSED: list[tuple[dict[str, Any], str, str]] = [
    ({"stale_after": "soon"}, "stale_after", "stale-after"),
    ({"long_after": "-3h"}, "long_after", "long-after"),
    ({"keep_runs": "lots"}, "keep_runs", "keep"),
    ({"keep_logs": "9999999999999999999d"}, "keep_logs", "keep"),
    ({"after": "nosuchjob"}, "after", "nosuchjob"),
    ({"after": "docs:sometimes"}, "after", "is not success, failure or always"),
    ({"after": "photos"}, "after", "no job named 'photos'"),  # itself, not saved yet
    ({"rows": hook(0, "mount-nas /mnt")}, "hook.0.target", "JSON list"),
    ({"rows": hook(0, '["relative/prog"]')}, "hook.0.target", "absolute path"),
    ({"rows": hook(0, '["/bin/true", 5]')}, "hook.0.target", "string"),
    ({"rows": hook(0, "/bin/true", timeout="7h")}, "hook.0.timeout", "timeout"),
    ({"rows": hook(0, "/bin/true") | {"hook.0.event": "sometime"}}, "hooks", "unknown event"),
    ({"rows": hook(0, "", timeout="5m")}, "hook.0.target", "Give the hook's command"),
    ({"rows": hook(0, "javascript:alert(1)")}, "hook.0.target", "JSON list"),
    ({"rows": hook(0, "[" * 50_000)}, "hook.0.target", "JSON list"),  # past json's depth
    ({"rows": hook(0, "https://hooks.example.org/…")}, "hook.0.target", "not its hint"),
    ({"rows": hook(0, "/bin/true", on_error="<b>")}, "hook.0.on_error", "not continue or fail"),
]


def test_what_the_services_refuse_is_said_beside_its_input_and_nothing_is_saved(
    api: Api, disk: Path
) -> None:
    client = sign_in(api, "admin")
    for changes, field, words in REFUSED:
        answer = post(client, "/jobs/new", disk, **dict(changes))
        assert answer.status_code == 422, (changes, answer.text[-2000:])
        said = " ".join(error_of(answer, field))
        assert words.casefold() in said.casefold(), (changes, field, answer.text[-3000:])
        assert "Nothing was saved" in answer.text
    assert [j.name for j in api.svc.jobs.list()] == ["docs"]
    # A link that closes a cycle is refused on an edit, naming the cycle.
    assert post(client, "/jobs/new", disk, after="docs").status_code == 303
    cycle = post(client, "/jobs/docs/edit", disk, after="photos")
    assert cycle.status_code == 422 and "cycle" in " ".join(error_of(cycle, "after"))
    assert api.svc.jobs.show("docs").after == []


def test_hostile_text_is_shown_as_text_and_a_typed_webhook_is_never_sent_back(
    api: Api, disk: Path
) -> None:
    client = sign_in(api, "admin")
    script = '"><script>alert(1)</script>'
    rows = {**hook(0, WEBHOOK), **hook(1, script, event="finally")}
    answer = post(client, "/jobs/new", disk, after=script, keep_logs=script, rows=rows)
    assert answer.status_code == 422
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;" in answer.text or "&#34;&gt;&lt;script&gt;" in answer.text
    assert "s3cret" not in answer.text
    assert value_of(answer, "hook.0.target") == ""
    # A hook that is no command does not hide what the services find in the rest.
    assert error_of(answer, "hook.1.target") and error_of(answer, "keep_logs")
    assert error_of(answer, "after")
    assert "Type the webhook's URL again" in " ".join(error_of(answer, "hook.0.target"))
    # A huge value is refused in words, not a crash; so is a form of too many fields.
    huge = post(client, "/jobs/new", disk, stale_after="9" * 5000)
    assert huge.status_code == 422 and error_of(huge, "stale_after")
    csrf = csrf_of(client.get("/jobs/new"))
    many = {f"hook.{i}.target": "/bin/true" for i in range(120)}
    flood = client.post("/jobs/new", data={"csrf": csrf, **job_form(disk), **many})
    assert flood.status_code == 422 and "more than 100 fields" in flood.text
    assert [j.name for j in api.svc.jobs.list()] == ["docs"]


def test_the_live_check_puts_a_hooks_error_beside_its_row(api: Api, disk: Path) -> None:
    client = sign_in(api, "admin")
    csrf = csrf_of(client.get("/jobs/new"))
    rows = {**hook(0, "/bin/true"), **hook(1, '["tmp/x"]', event="after")}
    answer = client.post("/jobs/new/check", data={**job_form(disk), **rows},
                         headers={"x-csrf-token": csrf})  # fmt: skip
    assert answer.status_code == 200
    errs = re.search(r'id="errs-hook-1-target" hx-swap-oob="true"[^>]*>(.*?)</div>', answer.text)
    assert errs and "hooks.after[0]" in errs.group(1) and "absolute path" in errs.group(1)
    assert 'id="errs-hook-0-target" hx-swap-oob="true" aria-live="polite"></div>' in answer.text
    assert [j.name for j in api.svc.jobs.list()] == ["docs"]


def test_a_job_others_run_after_shows_both_sides(api: Api, disk: Path) -> None:
    api.svc.jobs.add("verify", JobFields(kind="scripted", after=["docs:always"]))
    page = sign_in(api, "viewer").get("/jobs/docs").text
    assert '<dt>Followed by</dt><dd><a href="/jobs/verify">verify</a> (on always)' in page
