"""The console's charts without a browser: the dashboard and a job's page carry their
figures (as JSON for the chart and as a table for everyone else), and the chart
library is served like the console's other vendored files."""

from __future__ import annotations

import hashlib
import json
import re
from importlib.resources import files

from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api
from tests.api.test_console import browser, sign_in
from tests.support.harness import Harness

DATA = re.compile(r'<script type="application/json" class="chart-data">(.*?)</script>', re.S)
ASSET = re.compile(r'(?:href|src)="(/static/[0-9a-f]{16}/([^"]+))"')


def chart_data(html: str) -> list[dict[str, object]]:
    found = DATA.findall(html)
    assert len(found) == 1, html[:300]
    data: list[dict[str, object]] = json.loads(found[0])
    return data


def test_the_dashboard_carries_30_days_of_runs_by_outcome_and_bytes(
    api: Api, harness: Harness
) -> None:
    api.svc.jobs.add("ok", JobFields(kind="scripted", params={"result": "ok"}, retries=0))
    api.svc.jobs.add("bad", JobFields(kind="scripted", params={"result": "fail"}, retries=0))
    for name in ("ok", "ok", "bad"):
        api.svc.runs.request(name)
    harness.step()
    page = sign_in(api, "viewer").get("/")
    assert page.status_code == 200
    days = chart_data(page.text)
    assert len(days) == 30
    today = api.clock.now().date().isoformat()
    assert days[-1] == {"day": today, "succeeded": 2, "failed": 1, "cancelled": 0, "bytes": 6}
    assert all(d["succeeded"] == d["failed"] == 0 for d in days[:-1])
    # It should say the same in words, for a browser without JS and a screen reader.
    assert "Last 7 days: 2 succeeded, 1 failed, 0 cancelled or skipped, 6 B moved." in page.text
    assert f'<time datetime="{today}">{today}</time></td><td class="num">2</td>' in page.text
    assert {"uPlot.iife.min.js", "uPlot.min.css", "charts.js"} <= {
        name for _, name in ASSET.findall(page.text)
    }


def test_a_job_page_carries_the_history_of_its_last_runs(api: Api, harness: Harness) -> None:
    api.svc.jobs.add("photos", JobFields(kind="scripted", params={"result": "ok"}, retries=0))
    ids = [api.svc.runs.request("photos")]
    harness.step()
    ids.append(api.svc.runs.request("photos"))
    harness.step()
    api.svc.runs.request("photos")  # waiting: not in the history
    page = sign_in(api, "viewer").get("/jobs/photos")
    assert page.status_code == 200
    history = chart_data(page.text)
    assert [(h["id"], h["outcome"], h["bytes"]) for h in history] == [
        (ids[0], "succeeded", 3),
        (ids[1], "succeeded", 3),
    ]
    assert "last 2 ended runs" in page.text
    assert f'<tr data-run-id="{ids[1]}"><td><a href="/runs/{ids[1]}">#{ids[1]}</a>' in page.text


def test_a_job_without_an_ended_run_says_so_instead_of_a_chart(api: Api) -> None:
    api.svc.jobs.add("fresh", JobFields(kind="scripted", params={"result": "ok"}, retries=0))
    page = sign_in(api, "viewer").get("/jobs/fresh")
    assert "No run has ended yet" in page.text
    assert DATA.search(page.text) is None


def test_the_chart_library_is_vendored_listed_and_served_for_a_year(api: Api) -> None:
    static = files("synchub.web").joinpath("static")
    listed = static.joinpath("VENDORED.md").read_text()
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        digest = hashlib.sha256(static.joinpath(name).read_bytes()).hexdigest()
        row = rf"\| {re.escape(name)} \| uplot .*\| 1\.6\.32 \| MIT.*\| {digest} \|"
        assert re.search(row, listed), name
    assert "Copyright (c) 2022 Leon Sorokin" in static.joinpath("uPlot.LICENSE.txt").read_text()
    page = sign_in(api, "viewer").get("/")
    for url, _ in ASSET.findall(page.text):
        answer = browser(api).get(url)
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
