"""The job form's data-safety settings the CLI and the API have: the delete guard,
kept versions (keep_deleted) and bisync's access check, checked by the services."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import Api
from tests.api.test_console import csrf_of, sign_in
from tests.api.test_console_forms import disk, error_of, job_form, value_of

__all__ = ["disk"]  # the fixture, used by name


def test_the_form_offers_kept_versions_and_the_access_check_with_help(api: Api, disk: Path) -> None:
    page = sign_in(api, "admin").get("/jobs/new")
    assert '<label for="f-keep_deleted">Keep deleted files for</label>' in page.text
    assert '<label for="f-check_access">Check access (bisync only)</label>' in page.text
    assert 'id="f-check_access" name="check_access" type="checkbox" checked' in page.text
    assert "moved into .synchub-trash/" in page.text and "RCLONE_TEST" in page.text


def test_kept_versions_and_the_access_check_are_saved_as_the_api_saves_them(
    api: Api, disk: Path
) -> None:
    client = sign_in(api, "admin")
    csrf = csrf_of(client.get("/jobs/new"))
    form = job_form(disk, op="sync", keep_deleted="30d", delete_guard="10")
    answer = client.post("/jobs/new", data={"csrf": csrf, **form})
    assert answer.status_code == 303, answer.text
    job = api.svc.jobs.show("photos")
    assert (job.keep_deleted, job.delete_guard, job.check_access) == ("30d", "10", None)
    page = client.get("/jobs/photos").text
    assert "<code>.synchub-trash/</code> at the destination for 30d" in page
    # A bisync job with the box cleared has the check off.
    two = job_form(disk, name="both", op="bisync", require_marker="", destination_remote="disk")
    answer = client.post("/jobs/new", data={"csrf": csrf, **two})  # the box unchecked
    assert answer.status_code == 303, answer.text
    assert api.svc.jobs.show("both").check_access is False
    # An edit that empties the period stops keeping; one that ticks the box turns it on.
    edit = client.get("/jobs/photos/edit")
    assert value_of(edit, "keep_deleted") == "30d"
    fields = {**form, "keep_deleted": "", "delete_guard": ""}
    answer = client.post("/jobs/photos/edit", data={"csrf": csrf, **fields})
    assert answer.status_code == 303, answer.text
    job = api.svc.jobs.show("photos")
    assert (job.keep_deleted, job.delete_guard) == (None, "50%")
    answer = client.post("/jobs/both/edit", data={"csrf": csrf, **two, "check_access": "on"})
    assert answer.status_code == 303, answer.text
    assert api.svc.jobs.show("both").check_access is True
    assert "<dt>Access check</dt><dd>on" in client.get("/jobs/both").text


def test_what_the_services_refuse_is_said_beside_its_input(api: Api, disk: Path) -> None:
    client = sign_in(api, "admin")
    csrf = csrf_of(client.get("/jobs/new"))
    bad = client.post("/jobs/new", data={"csrf": csrf, **job_form(disk, keep_deleted="soon")})
    assert bad.status_code == 422
    assert error_of(bad, "keep_deleted") and value_of(bad, "keep_deleted") == "soon"
    move = job_form(disk, op="move", keep_deleted="30d")
    bad = client.post("/jobs/new", data={"csrf": csrf, **move})
    assert bad.status_code == 422
    assert "sync and copy jobs, not move" in " ".join(error_of(bad, "keep_deleted"))
    guarded = client.post("/jobs/new", data={"csrf": csrf, **job_form(disk, delete_guard="5")})
    assert guarded.status_code == 422 and "delete guard applies to sync" in guarded.text
    assert [j.name for j in api.svc.jobs.page()[0]] == ["docs"]  # nothing saved
