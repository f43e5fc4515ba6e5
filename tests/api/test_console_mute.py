"""Muting a job's alerts from its page: operators only, with the session's CSRF
token, audited as the API's mute is; a bad duration said beside the field."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api
from tests.api.test_console import csrf_of, sign_in


@pytest.fixture
def job(api: Api) -> str:
    api.svc.jobs.add("photos", JobFields(kind="scripted", cron="30 2 * * *", tz="Asia/Tokyo"))
    return "photos"


def test_an_operator_mutes_and_unmutes_and_the_audit_says_who(api: Api, job: str) -> None:
    client = sign_in(api, "operator")
    page = client.get("/jobs/photos")
    assert '<label for="f-duration">Mute alerts for</label>' in page.text
    assert 'data-muted="no"' in page.text
    answer = client.post("/jobs/photos/mute", data={"csrf": csrf_of(page), "duration": "2h"})
    assert answer.status_code == 303 and answer.headers["location"] == "/jobs/photos"
    until = api.clock.now() + timedelta(hours=2)
    assert api.svc.jobs.show("photos").muted_until == until.isoformat()
    page = client.get("/jobs/photos")
    assert "Job photos muted: no alert until" in page.text and "JST" in page.text  # the flash
    assert 'data-muted="yes"' in page.text and ">Unmute</button>" in page.text
    assert "Mute alerts for" not in page.text
    answer = client.post("/jobs/photos/unmute", data={"csrf": csrf_of(page)})
    assert answer.status_code == 303
    assert api.svc.jobs.show("photos").muted_until is None
    events = api.svc.audit.page(target="photos")
    assert [(e.action, e.actor) for e in events][:2] == [
        ("job.unmute", "operator-olga"),
        ("job.mute", "operator-olga"),
    ]


BAD = ["", "soon", "-2h", "99999999999999999999d", '"><script>alert(1)</script>', "2h" * 2000]


def test_a_bad_duration_is_said_beside_the_field_and_changes_nothing(api: Api, job: str) -> None:
    client = sign_in(api, "operator")
    csrf = csrf_of(client.get("/jobs/photos"))
    for duration in BAD:
        answer = client.post("/jobs/photos/mute", data={"csrf": csrf, "duration": duration})
        assert answer.status_code == 422, (duration[:40], answer.text[:2000])
        error = re.search(r'<p class="field-error" id="err-duration">(.*?)</p>', answer.text)
        assert error and "mute duration" in error.group(1).lower(), answer.text[-3000:]
        assert 'aria-invalid="true"' in answer.text
        assert "<script>alert(1)</script>" not in answer.text
    assert api.svc.jobs.show("photos").muted_until is None
    assert api.svc.audit.page(action="job.mute") == []


def test_a_viewers_forged_or_tokenless_mute_is_refused(api: Api, job: str) -> None:
    viewer = sign_in(api, "viewer")
    page = viewer.get("/jobs/photos").text
    assert "Mute alerts for" not in page and ">Unmute<" not in page
    csrf = csrf_of(viewer.get("/jobs/photos"))
    for action in ("mute", "unmute"):
        answer = viewer.post(f"/jobs/photos/{action}", data={"csrf": csrf, "duration": "1h"})
        assert answer.status_code == 403 and "has role viewer" in answer.text
    operator = sign_in(api, "operator")
    for data in ({"csrf": csrf, "duration": "1h"}, {"duration": "1h"}):  # another's, none
        answer = operator.post("/jobs/photos/mute", data=data)
        assert answer.status_code == 403 and "reload the page" in answer.text
    assert api.svc.jobs.show("photos").muted_until is None
    missing = operator.post("/jobs/nosuch/mute", data={"csrf": csrf_of(operator.get("/")),
                                                       "duration": "1h"})  # fmt: skip
    assert missing.status_code == 404
