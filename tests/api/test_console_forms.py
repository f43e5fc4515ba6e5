"""Changing things from the console, without a browser: the job and remote forms
(errors by field, in words, what was typed kept, secrets never echoed), the schedule
preview, dry runs and their marks, duplicate and remove, and every refusal: no
CSRF token, a viewer's or an operator's post where the API wants more."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest

from synchub.core.errors import InvalidName
from synchub.core.names import check_name
from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api, problem
from tests.api.test_console import csrf_of, sign_in
from tests.support.harness import Harness

SFTP = {"host": "nas.lan", "user": "backup", "pass": "hunter2-secret"}


def error_of(page: httpx.Response, field: str) -> list[str]:
    """The error messages the page shows beside input `field`."""
    key = field.replace(".", "-")
    found = re.findall(rf'<p class="field-error" id="err-{re.escape(key)}">(.*?)</p>', page.text)
    return [html.unescape(m) for m in found]


def value_of(page: httpx.Response, field: str) -> str | None:
    found = re.search(rf'name="{re.escape(field)}" type="[a-z]+" value="([^"]*)"', page.text)
    return html.unescape(found.group(1)) if found else None


@pytest.fixture
def disk(api: Api, tmp_path: Path) -> Path:
    """A local remote `disk` and a job `docs` syncing two folders through it."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    api.svc.remotes.add("disk", "local", {})
    api.svc.jobs.add(
        "docs",
        JobFields(
            params={
                "op": "sync",
                "source": f"disk:{tmp_path / 'src'}",
                "destination": f"disk:{tmp_path / 'dst'}",
            },
            cron="0 3 * * *",
            tz="Europe/Berlin",
            tags=["office"],
        ),
    )
    return tmp_path


def job_form(tmp_path: Path, **changes: str) -> dict[str, str]:
    form = {
        "name": "photos",
        "op": "copy",
        "source_remote": "disk",
        "source_path": str(tmp_path / "src"),
        "destination_remote": "",
        "destination_path": str(tmp_path / "backup"),
        "schedule": "cron",
        "cron": "30 2 * * *",
        "tz": "Europe/Berlin",
        "every": "",
        "filters": "- *.tmp\n",
        "options": "--bwlimit=10M\n",
        "retries": "2",
        "retry_delay": "5m",
        "timeout": "2h",
        "overlap": "queue",
        "queue": "default",
        "misfire": "skip",
        "tags": "home, photos",
        "enabled": "on",
        "delete_guard": "",
        "require_marker": ".mounted",
    }
    form.update(changes)
    return form


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_an_admin_gets_the_forms_as_only_an_admin_may_change_jobs(
    api: Api, disk: Path, role: str
) -> None:
    client = sign_in(api, role)
    for path in ("/jobs/new", "/jobs/docs/edit", "/jobs/new?copy=docs", "/remotes/new",
                 "/remotes/disk/edit"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert f"has role {role}" in answer.text
    page = client.get("/jobs/docs").text
    for control in (">Edit<", ">Duplicate<", ">Remove job<", "/jobs/new"):
        assert control not in page
    assert (">Dry run</button>" in page) is (role == "operator")
    assert ">New job<" not in client.get("/jobs").text
    assert ">New remote<" not in client.get("/remotes").text


def test_a_viewers_and_an_operators_posts_are_refused_and_change_nothing(
    api: Api, disk: Path
) -> None:
    viewer, operator = sign_in(api, "viewer"), sign_in(api, "operator")
    for client, paths in (
        (viewer, ["/jobs/docs/dry-run", "/remotes/disk/test"]),
        (viewer, ["/jobs/new", "/jobs/docs/edit", "/jobs/docs/remove", "/remotes/new",
                  "/remotes/disk/edit"]),
        (operator, ["/jobs/new", "/jobs/docs/edit", "/jobs/docs/remove", "/remotes/new",
                    "/remotes/disk/edit"]),
    ):  # fmt: skip
        csrf = csrf_of(client.get("/jobs/docs"))
        for path in paths:
            data = {"csrf": csrf, **job_form(disk, name="sneaky"), "type": "local"}
            answer = client.post(path, data=data)
            assert answer.status_code == 403, path
    assert [j.name for j in api.svc.jobs.list()] == ["docs"]
    assert api.svc.runs.page(job="docs") == []
    assert [r.name for r in api.svc.remotes.list()] == ["disk"]


def test_every_new_write_wants_its_csrf_token(api: Api, disk: Path) -> None:
    client = sign_in(api, "admin")
    for path in ("/jobs/new", "/jobs/docs/edit", "/jobs/docs/dry-run", "/jobs/docs/remove",
                 "/remotes/new", "/remotes/disk/edit", "/remotes/disk/test"):  # fmt: skip
        answer = client.post(path, data={**job_form(disk), "csrf": "forged"})
        assert answer.status_code == 403, path
        assert "reload the page" in answer.text
    assert [j.name for j in api.svc.jobs.list()] == ["docs"]
    assert api.svc.runs.page(job="docs") == []


def test_the_new_job_form_has_every_setting_and_the_hooks_tests_use(api: Api, disk: Path) -> None:
    page = sign_in(api, "admin").get("/jobs/new")
    assert page.status_code == 200
    for label in ("Name", "Source", "Destination", "Cron expression", "Time zone"):
        assert re.search(rf'<label for="[^"]+">{label}</label>', page.text), label
    assert ">Save</button>" in page.text
    for name in ("op", "source_remote", "source_path", "destination_remote",
                 "destination_path", "schedule", "cron", "tz", "every", "watch", "filters",
                 "options", "retries", "retry_delay", "timeout", "overlap", "queue", "misfire",
                 "tags", "enabled", "delete_guard", "require_marker"):  # fmt: skip
        assert f'name="{name}"' in page.text, name
    # It should say plainly what sync deletes, and offer the remotes by name.
    assert "files missing from the source are deleted at the destination" in page.text
    assert '<option value="disk">disk</option>' in page.text
    assert "--bwlimit" in page.text  # the allowed options, with how to write them


def test_a_job_added_through_the_form_is_what_the_api_would_have_made(api: Api, disk: Path) -> None:
    client = sign_in(api, "admin")
    csrf = csrf_of(client.get("/jobs/new"))
    answer = client.post("/jobs/new", data={"csrf": csrf, **job_form(disk)})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/jobs/photos"
    job = api.svc.jobs.show("photos")
    assert job.params["source"] == f"disk:{disk / 'src'}"
    assert job.params["destination"] == str(disk / "backup")
    assert job.params["filters"] == ["- *.tmp"]
    assert job.params["options"] == ["--bwlimit=10M"]
    assert (job.schedule.cron, job.schedule.tz) == ("30 2 * * *", "Europe/Berlin")
    assert (job.retries, job.retry_delay_s, job.timeout_s) == (2, 300, 7200)
    assert (job.overlap, job.misfire, job.tags) == ("queue", "skip", ["home", "photos"])
    assert job.require_marker == ".mounted" and job.enabled is True
    page = client.get("/jobs/photos").text
    assert "Job photos added: At 02:30" in page  # the flash
    assert "<code>.mounted</code> must exist at the source's root" in page
    docs = client.get("/jobs/docs").text  # a sync: its guard said in words
    assert "delete more than 50% of the destination&#39;s files stops before" in docs
    assert [e.action for e in api.svc.audit.page(actor="admin-ada")] == ["job.add"]


def test_every_error_is_shown_beside_its_field_and_what_was_typed_is_kept(
    api: Api, disk: Path
) -> None:
    client = sign_in(api, "admin")
    csrf = csrf_of(client.get("/jobs/new"))
    typed = job_form(
        disk,
        name="bad name",
        source_remote="",
        source_path="nowhere:/x",
        cron="61 * * * *",
        options="--config=/etc/passwd",
        queue="a b",
        tags="ok, no/slash",
        retry_delay="soon",
    )
    answer = client.post("/jobs/new", data={"csrf": csrf, **typed})
    assert answer.status_code == 422
    assert "Nothing was saved: 7 things need fixing." in answer.text
    assert "Bad job name 'bad name'" in error_of(answer, "name")[0]
    assert "unknown remote 'nowhere'" in error_of(answer, "source_path")[0]
    assert "bad minute" in error_of(answer, "cron")[0]
    assert "--config" in error_of(answer, "options")[0]
    assert "Bad queue name 'a b'" in error_of(answer, "queue")[0]
    assert "Bad tag name 'no/slash'" in error_of(answer, "tags")[0]
    assert "Bad retry delay 'soon'" in error_of(answer, "retry_delay")[0]
    # It should explain the bad cron in the preview too, naming the field at fault.
    assert "(the minute field)" in answer.text
    # It should keep what was typed, every input.
    for field in ("name", "source_path", "cron", "queue", "tags", "retry_delay", "tz"):
        assert value_of(answer, field) == typed[field], field
    assert "--config=/etc/passwd</textarea>" in answer.text
    cron = re.search(r'<input id="f-cron"[^>]*>', answer.text)
    assert cron and 'aria-describedby="help-cron err-cron" aria-invalid="true"' in cron.group(0)
    assert [j.name for j in api.svc.jobs.list()] == ["docs"]


def test_the_api_reads_several_problems_as_the_first_as_it_always_did(api: Api) -> None:
    body = {"name": "x", "params": {"source": "/a", "destination": "/b"}, "cron": "61 * * * *",
            "queue": "a b"}  # fmt: skip
    found = problem(api.admin.post("/api/v1/jobs", json=body), 422)
    assert found["type"] == "urn:synchub:problem:invalid-schedule"
    assert "bad minute" in found["detail"]


def test_new_is_no_job_or_remote_name_anywhere(api: Api, disk: Path) -> None:
    for what in ("job", "remote"):
        with pytest.raises(InvalidName, match="reserved"):
            check_name("new", what=what)
    assert check_name("new", what="tag") == "new"
    assert check_name("news", what="job") == "news"
    found = problem(api.admin.post("/api/v1/jobs", json={"name": "new"}), 422)
    assert "reserved" in found["detail"]
    found = problem(api.admin.post("/api/v1/remotes", json={"name": "new", "type": "local"}), 422)
    assert "reserved" in found["detail"]
    client = sign_in(api, "admin")
    csrf = csrf_of(client.get("/jobs/new"))
    answer = client.post("/jobs/new", data={"csrf": csrf, **job_form(disk, name="new")})
    assert answer.status_code == 422
    assert "it is reserved" in error_of(answer, "name")[0]


def test_a_name_taken_is_said_beside_the_name(api: Api, disk: Path) -> None:
    client = sign_in(api, "admin")
    csrf = csrf_of(client.get("/jobs/new"))
    answer = client.post("/jobs/new", data={"csrf": csrf, **job_form(disk, name="docs")})
    assert answer.status_code == 409
    assert error_of(answer, "name") == ["A job named 'docs' already exists"]


def test_the_schedule_preview_describes_and_lists_the_next_five_fires_in_the_zone(
    api: Api,
) -> None:
    client = sign_in(api, "viewer")  # reading what a schedule means changes nothing
    cron = client.get(
        "/jobs/new/schedule",
        params={"schedule": "cron", "cron": "30 2 * * *", "tz": "America/New_York"},
    )
    assert cron.status_code == 200
    assert "At 02:30" in cron.text and "in America/New_York" in cron.text
    assert len(re.findall(r"<li><time datetime=", cron.text)) == 5
    assert re.search(r"02:30:00 E[SD]T</time>", cron.text)
    bad = client.get("/jobs/new/schedule", params={"schedule": "cron", "cron": "0 25 * * *"})
    assert 'data-state="invalid"' in bad.text
    assert "bad hour" in bad.text and "(the hour field)" in bad.text
    zone = client.get(
        "/jobs/new/schedule", params={"schedule": "cron", "cron": "@daily", "tz": "Mars/Base"}
    )
    assert "Mars/Base" in html.unescape(zone.text) and 'data-state="invalid"' in zone.text
    every = client.get("/jobs/new/schedule", params={"schedule": "every", "every": "15m"})
    assert "15" in every.text and len(re.findall(r"<li><time", every.text)) == 5
    manual = client.get("/jobs/new/schedule", params={"schedule": "none"})
    assert "only when someone asks" in manual.text


def test_editing_a_job_changes_what_changed_and_keeps_its_schedule_running(
    api: Api, disk: Path
) -> None:
    client = sign_in(api, "admin")
    form = client.get("/jobs/docs/edit")
    assert form.status_code == 200
    assert value_of(form, "cron") == "0 3 * * *" and value_of(form, "tz") == "Europe/Berlin"
    assert value_of(form, "source_path") == str(disk / "src")
    assert value_of(form, "delete_guard") == "50%"
    before = api.svc.jobs.show("docs")
    fields = {
        "csrf": csrf_of(form), **job_form(disk, op="sync", cron="0 3 * * *", retries="7",
        tags="office, weekly", filters="", options="", require_marker="", misfire="once",
        overlap="skip", retry_delay="60s", timeout="", delete_guard="50%",
        destination_remote="disk", destination_path=str(disk / "dst"))
    }  # fmt: skip
    answer = client.post("/jobs/docs/edit", data=fields)
    assert answer.status_code == 303, answer.text
    after = api.svc.jobs.show("docs")
    assert after.retries == 7 and after.tags == ["office", "weekly"]
    # It should not count an unchanged schedule again from now.
    assert after.next_fire_at == before.next_fire_at
    assert after.schedule == before.schedule
    bad = client.post("/jobs/docs/edit", data={**fields, "cron": "* * *", "timeout": "-1h"})
    assert bad.status_code == 422
    assert error_of(bad, "cron") and "negative" in error_of(bad, "timeout")[0]
    assert value_of(bad, "cron") == "* * *"
    assert api.svc.jobs.show("docs").schedule.cron == "0 3 * * *"


def test_duplicate_opens_the_new_job_form_prefilled(api: Api, disk: Path) -> None:
    client = sign_in(api, "admin")
    page = client.get("/jobs/docs").text
    assert 'href="/jobs/new?copy=docs">Duplicate</a>' in page
    form = client.get("/jobs/new", params={"copy": "docs"})
    assert value_of(form, "name") == "docs-copy"
    assert value_of(form, "cron") == "0 3 * * *"
    assert value_of(form, "destination_path") == str(disk / "dst")
    answer = client.post(
        "/jobs/new",
        data={"csrf": csrf_of(form), **job_form(disk, name="docs-copy", source_remote="disk")},
    )
    assert answer.status_code == 303
    assert api.svc.jobs.show("docs-copy").params["source"] == f"disk:{disk / 'src'}"


def test_a_dry_run_is_asked_for_and_marked_wherever_runs_are_shown(
    api: Api, disk: Path, harness: Harness
) -> None:
    client = sign_in(api, "operator")
    csrf = csrf_of(client.get("/jobs/docs"))
    answer = client.post("/jobs/docs/dry-run", data={"csrf": csrf})
    assert answer.status_code == 303
    run_id = int(answer.headers["location"].rsplit("/", 1)[1])
    assert (
        f"Dry run {run_id} of docs requested: it changes nothing."
        in client.get(answer.headers["location"]).text
    )
    assert harness.step() == [run_id]
    shown = api.svc.runs.show(run_id)
    assert shown.dry_run is True and shown.state == "succeeded"
    assert not (disk / "dst").exists()
    run = client.get(f"/runs/{run_id}").text
    assert 'data-state="dry-run"' in run and "it changed nothing" in run
    assert "would copy (1)" in run and '<span class="would">would copy</span>' in run
    for path in ("/runs", "/jobs/docs", "/"):
        assert 'data-state="dry-run"' in client.get(path).text, path
    api.svc.runs.request("docs")  # a real run is not marked
    assert client.get("/runs").text.count('data-state="dry-run"') == 1


@pytest.mark.parametrize("keep", [True, False])
def test_remove_asks_whether_to_keep_the_history(api: Api, disk: Path, keep: bool) -> None:
    run_id = api.svc.runs.request("docs")
    client = sign_in(api, "admin")
    page = client.get("/jobs/docs")
    assert 'data-confirm="Remove job docs and its 1 run?"' in page.text
    # Once, at the page's end: the title is the job's name alone.
    assert page.text.count(">Remove job<") == 1
    assert "<title>docs · synchub</title>" in page.text
    data = {"csrf": csrf_of(page), **({"keep_history": "on"} if keep else {})}
    answer = client.post("/jobs/docs/remove", data=data)
    assert answer.status_code == 303 and answer.headers["location"] == "/jobs"
    said = "its 1 run kept, to read" if keep else "its 1 run deleted"
    assert f"Job docs removed; {said}." in client.get("/jobs").text
    assert api.svc.jobs.list() == []
    assert (len(api.svc.runs.page()) == 1) is keep
    if keep:
        assert api.svc.runs.show(run_id).state == "cancelled"


def test_the_remote_form_is_built_from_rclones_metadata(api: Api) -> None:
    client = sign_in(api, "admin")
    chooser = client.get("/remotes/new")
    assert chooser.status_code == 200 and '<option value="sftp">' in chooser.text
    form = client.get("/remotes/new", params={"type": "sftp"})
    text = form.text
    # Required first; the password a password input; the advanced ones folded.
    assert text.index('name="options.host"') < text.index('name="options.user"')
    assert re.search(r'name="options.pass" type="password"', text)
    details = text.index("<summary>Advanced options")
    assert text.index('name="options.known_hosts_file"') > details
    assert details > text.index('name="options.port"')
    s3 = client.get("/remotes/new", params={"type": "s3", "provider": "Minio"}).text
    assert '<option value="Minio" selected>' in s3
    assert 'name="options.provider" value="Minio"' in s3
    unknown = client.get("/remotes/new", params={"type": "floppy"})
    assert unknown.status_code == 422
    assert "unknown remote type 'floppy'" in html.unescape(unknown.text)


def test_adding_a_remote_shows_errors_by_option_and_never_echoes_a_secret(api: Api) -> None:
    client = sign_in(api, "admin")
    csrf = csrf_of(client.get("/remotes/new", params={"type": "sftp"}))
    typed = {"csrf": csrf, "type": "sftp", "name": "nas", "options.user": "backup",
             "options.pass": "hunter2-secret", "options.port": "twenty-two"}  # fmt: skip
    answer = client.post("/remotes/new", data=typed)
    assert answer.status_code == 422
    assert error_of(answer, "options.host") == ["a sftp remote needs option 'host'"]
    assert "must be a whole number" in error_of(answer, "options.port")[0]
    assert value_of(answer, "options.user") == "backup"
    assert "hunter2-secret" not in answer.text
    # An option that would start a program is refused as the API refuses it.
    program = {"options.host": "nas.lan", "options.port": "22", "options.ssh": "ssh -x"}
    ssh = client.post("/remotes/new", data={**typed, **program})
    assert ssh.status_code == 422
    assert "would start a program on this server" in error_of(ssh, "options.ssh")[0]
    assert "hunter2-secret" not in ssh.text
    ok = client.post("/remotes/new", data={**typed, "options.host": "nas.lan", "options.port": ""})
    assert ok.status_code == 303 and ok.headers["location"] == "/remotes/nas"
    assert api.svc.remotes.configs(frozenset({"nas"}))["nas"].options == SFTP


def test_editing_a_remote_keeps_a_secret_left_blank_and_masks_it(api: Api) -> None:
    api.svc.remotes.add("nas", "sftp", {**SFTP, "port": "2222"})
    client = sign_in(api, "admin")
    form = client.get("/remotes/nas/edit")
    assert form.status_code == 200
    assert "hunter2-secret" not in form.text and "********" not in form.text
    assert 'name="options.pass" type="password" value="" ' in form.text
    assert 'placeholder="keep current"' in form.text
    assert value_of(form, "options.host") == "nas.lan"
    data = {"csrf": csrf_of(form), "options.host": "nas2.lan", "options.user": "backup",
            "options.pass": "", "options.port": ""}  # fmt: skip
    answer = client.post("/remotes/nas/edit", data=data)
    assert answer.status_code == 303, answer.text
    options = api.svc.remotes.configs(frozenset({"nas"}))["nas"].options
    assert options == {**SFTP, "host": "nas2.lan"}  # the port emptied: rclone's default
    client.post("/remotes/nas/edit", data={**data, "options.pass": "new-secret"})
    assert api.svc.remotes.configs(frozenset({"nas"}))["nas"].options["pass"] == "new-secret"
    bad = client.post("/remotes/nas/edit", data={**data, "options.host": "", "options.pass": "x"})
    assert bad.status_code == 422 and error_of(bad, "options.host")
    assert api.svc.remotes.configs(frozenset({"nas"}))["nas"].options["host"] == "nas2.lan"


def test_test_says_whether_the_remote_answers(api: Api, tmp_path: Path) -> None:
    api.svc.remotes.add("here", "alias", {"remote": str(tmp_path)})
    api.svc.remotes.add("gone", "alias", {"remote": str(tmp_path / "missing")})
    client = sign_in(api, "operator")
    page = client.get("/remotes/here")
    assert ">Test</button>" in page.text and ">Edit<" not in page.text
    csrf = csrf_of(page)
    answer = client.post("/remotes/here/test", data={"csrf": csrf})
    assert answer.status_code == 303
    assert "Remote here answers" in client.get("/remotes/here").text
    htmx = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    fragment = client.post("/remotes/gone/test", headers=htmx)
    assert fragment.status_code == 200
    assert 'data-state="failed"' in fragment.text and "Remote gone failed" in fragment.text


def test_a_job_of_another_kind_is_edited_for_its_schedule_and_policies(api: Api) -> None:
    api.svc.jobs.add("report", JobFields(kind="scripted", params={"result": "ok"}))
    client = sign_in(api, "admin")
    form = client.get("/jobs/report/edit")
    assert form.status_code == 200
    assert "A scripted job: its parameters are changed with" in form.text
    assert 'name="source_path"' not in form.text and ">Dry run<" not in form.text
    data = {"csrf": csrf_of(form), "schedule": "every", "every": "6h", "tz": "UTC",
            "retries": "1", "retry_delay": "60s", "timeout": "", "overlap": "skip",
            "queue": "default", "misfire": "once", "tags": "", "enabled": "on"}  # fmt: skip
    answer = client.post("/jobs/report/edit", data=data)
    assert answer.status_code == 303, answer.text
    job = api.svc.jobs.show("report")
    assert job.params["result"] == "ok" and job.schedule.every_s == 6 * 3600
    assert job.retries == 1


def test_the_job_form_is_checked_as_it_is_filled_in_and_nothing_is_saved(
    api: Api, disk: Path
) -> None:
    client = sign_in(api, "admin")
    csrf = csrf_of(client.get("/jobs/new"))
    htmx = {"X-CSRF-Token": csrf, "HX-Request": "true"}
    typed = job_form(disk, name="docs", cron="61 * * * *", retries="many")
    answer = client.post("/jobs/new/check", data=typed, headers=htmx)
    assert answer.status_code == 200
    # Each input's errors, to be swapped in beside it; the others emptied.
    assert '<div class="errs" id="errs-retries" hx-swap-oob="true"' in answer.text
    assert "give a whole number" in error_of(answer, "retries")[0]
    fixed = client.post("/jobs/new/check", data={**typed, "retries": "1"}, headers=htmx)
    assert error_of(fixed, "name") == ["A job named 'docs' already exists"]
    assert "bad minute" in error_of(fixed, "cron")[0]
    assert error_of(fixed, "retries") == []
    good = client.post("/jobs/new/check", data={**typed, "retries": "1", "name": "p",
                                                  "cron": "0 1 * * *"}, headers=htmx)  # fmt: skip
    assert "field-error" not in good.text
    edit = client.post("/jobs/docs/check", data={**typed, "retries": "1", "queue": "a b"},
                       headers=htmx)  # fmt: skip
    assert "Bad queue name" in error_of(edit, "queue")[0] and error_of(edit, "name") == []
    assert [j.name for j in api.svc.jobs.list()] == ["docs"]
    assert api.svc.jobs.show("docs").schedule.cron == "0 3 * * *"
    viewer = sign_in(api, "viewer")
    refused = viewer.post("/jobs/new/check", data=typed,
                          headers={**htmx, "X-CSRF-Token": csrf_of(viewer.get("/"))})  # fmt: skip
    assert refused.status_code == 403
