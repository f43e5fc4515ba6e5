"""The job form's run windows: saved as the API saves them, shown back for an edit
and on the job page, emptied to remove, a bad one refused beside its input with
nothing saved, and no control for a viewer."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx

from tests.api.conftest import Api
from tests.api.test_console import csrf_of, sign_in
from tests.api.test_console_forms import disk, error_of, job_form

__all__ = ["disk"]  # the fixture, used by name

NIGHTS = "Mon-Fri 22:00-06:00\nSat,Sun 00:00-24:00\n"


def post(client: httpx.Client, path: str, tmp: Path, **changes: str) -> httpx.Response:
    csrf = csrf_of(client.get("/jobs/new"))
    return client.post(path, data={"csrf": csrf, **job_form(tmp, **changes)})


def shown_windows(page: str) -> str:
    found = re.search(r'<textarea id="f-windows" name="windows"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no windows input"
    return html.unescape(found.group(1))


def test_windows_are_saved_as_the_api_saves_them_shown_and_removed(api: Api, disk: Path) -> None:
    client = sign_in(api, "admin")
    assert shown_windows(client.get("/jobs/new").text) == ""
    assert ">Run windows</label>" in client.get("/jobs/new").text
    answer = post(client, "/jobs/new", disk, windows=NIGHTS)
    assert answer.status_code == 303, answer.text
    job = api.svc.jobs.show("photos")
    assert (job.windows, job.windows_tz) == (NIGHTS.split("\n")[:2], "Europe/Berlin")
    page = client.get("/jobs/photos").text
    assert "Runs only in <code>Mon-Fri 22:00-06:00</code>, <code>Sat,Sun 00:00-24:00</code>" in page
    edit = client.get("/jobs/photos/edit").text
    assert shown_windows(edit) == NIGHTS.strip()

    # Sent back as shown: nothing changes (no edit is audited).
    again = post(client, "/jobs/photos/edit", disk, windows=shown_windows(edit))
    assert again.status_code == 303, again.text
    assert [e.action for e in api.svc.audit.page(actor="admin-ada")] == ["job.add"]
    # Emptied: the job runs at any hour again.
    cleared = post(client, "/jobs/photos/edit", disk, windows="")
    assert cleared.status_code == 303, cleared.text
    assert (api.svc.jobs.show("photos").windows, api.svc.jobs.show("photos").windows_tz) == (
        [],
        None,
    )
    assert "Runs only in" not in client.get("/jobs/photos").text


def test_a_bad_window_is_said_beside_its_input_with_the_apis_words(api: Api, disk: Path) -> None:
    client = sign_in(api, "admin")
    answer = post(client, "/jobs/new", disk, windows="22:00-06:00\n25:00-26:00")
    assert answer.status_code == 422
    assert error_of(answer, "windows") == [
        "Bad window '25:00-26:00': '25:00' is not a time of day (00:00 to 23:59)"
    ]
    assert shown_windows(answer.text) == "22:00-06:00\n25:00-26:00"  # kept as typed
    assert [j.name for j in api.svc.jobs.list()] == ["docs"]
    # The same refusal on an edit changes nothing, as the live check says it.
    assert post(client, "/jobs/new", disk, windows="22:00-06:00").status_code == 303
    refused = post(client, "/jobs/photos/edit", disk, windows="Sat 09:00")
    assert (
        refused.status_code == 422 and "Bad window 'Sat 09:00'" in error_of(refused, "windows")[0]
    )
    assert api.svc.jobs.show("photos").windows == ["22:00-06:00"]
    csrf = csrf_of(client.get("/jobs/new"))
    check = client.post("/jobs/new/check", data=job_form(disk, name="other", windows="nope"),
                        headers={"x-csrf-token": csrf})  # fmt: skip
    assert check.status_code == 200 and "Bad window &#39;nope&#39;" in check.text


def test_a_viewer_sees_the_windows_and_no_control(api: Api, disk: Path) -> None:
    assert post(sign_in(api, "admin"), "/jobs/new", disk, windows="22:00-06:00").status_code == 303
    page = sign_in(api, "viewer").get("/jobs/photos").text
    assert "Runs only in <code>22:00-06:00</code> (Europe/Berlin)" in page
    assert 'name="windows"' not in page and ">Edit<" not in page


def test_the_job_page_says_when_a_fires_run_may_start(api: Api, disk: Path) -> None:
    # The test's clock: Monday 2025-06-02 09:00 UTC; the fires at 02:30 in Berlin
    # wait for the window at 22:00 that evening.
    client = sign_in(api, "admin")
    assert post(client, "/jobs/new", disk, windows="22:00-23:00").status_code == 303
    page = client.get("/jobs/photos").text
    fires = page[page.index('<ol class="fires">') : page.index("</ol>")]
    assert fires.count("runs when the window opens") == 5
    assert (
        '<time datetime="2025-06-03T02:30:00+02:00" title="2025-06-03 00:30:00 UTC">2025-06-03'
        ' 02:30:00 CEST</time> <span class="dim">(in 15 h)</span>: runs when the window opens'
        ' <time datetime="2025-06-03T20:00:00+00:00">Tue 22:00 CEST</time></li>'
    ) in fires
