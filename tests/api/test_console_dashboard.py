"""The dashboard's jobs table: the failing ones first, when each began failing, and
how old its last success is, with the filters kept across pages."""

from __future__ import annotations

import re

import pytest

from synchub.services.jobs.fields import JobFields
from synchub.web import pages
from tests.api.conftest import Api
from tests.api.test_console import sign_in
from tests.support.harness import Harness

ROW = re.compile(r'<a class="nowrap" href="/jobs/([^"]+)">')
ROW_IN_PANEL = re.compile(r'<a href="/jobs/([^"]+)"><strong>')


def run_once(api: Api, harness: Harness, name: str, result: str) -> str:
    """A run of `name` that ends as `result` says; when it ended."""
    api.svc.jobs.edit(name, JobFields(params={"result": result}))
    run_id = api.svc.runs.request(name)
    harness.step()
    ended = api.svc.runs.show(run_id).finished_at
    api.clock.advance(3600)
    return str(ended)


def test_failing_jobs_lead_with_the_start_of_their_streak(api: Api, harness: Harness) -> None:
    for name in ("alpha", "beta", "zeta"):
        api.svc.jobs.add(name, JobFields(kind="scripted", retries=0))
    run_once(api, harness, "zeta", "ok")
    began = run_once(api, harness, "zeta", "fail")  # the streak's first failure
    run_once(api, harness, "zeta", "fail")
    run_once(api, harness, "beta", "fail")
    run_once(api, harness, "alpha", "ok")
    for name in ("alpha", "beta", "zeta"):  # hourly from now: stale after two hours
        api.svc.jobs.edit(name, JobFields(cron="0 * * * *"))
    api.svc.jobs.edit("beta", JobFields(enabled=False))  # a disabled job is not failing
    client = sign_in(api, "viewer")

    page = client.get("/").text
    jobs = page[page.index('id="jobs-title"') :]
    assert ROW.findall(jobs) == ["zeta", "alpha", "beta"]
    # It should say when zeta began failing: the first failure after its success.
    assert re.findall(r'data-failing-since="([^"]+)"', jobs) == [began]
    # It should colour the age of the last success: zeta's is five hours old (more
    # than two of its periods), alpha's one hour, beta never had one.
    assert re.findall(r'data-staleness="(\w+)"', jobs) == ["stale", "fresh", "never"]
    assert "(stale)" in jobs  # said, not only coloured
    attention = page[: page.index('id="jobs-title"')]
    assert f'failing since <time datetime="{began}"' in attention


def test_the_dashboard_filters_and_pages_keep_their_filters(api: Api, harness: Harness) -> None:
    for i in range(55):
        api.svc.jobs.add(f"job-{i:02d}", JobFields(kind="scripted", tags=["many"]))
    api.svc.jobs.add("other", JobFields(kind="scripted"))
    api.svc.jobs.edit("job-54", JobFields(params={"result": "fail"}))
    api.svc.runs.request("job-54")
    harness.step()
    client = sign_in(api, "viewer")

    first = client.get("/", params={"tag": "many"}).text
    names = ROW.findall(first[first.index('id="jobs-title"') :])
    assert names[0] == "job-54" and len(names) == 51 and "other" not in names
    more = re.search(r'href="(/\?q=&amp;tag=many&amp;state=&amp;after=job-49)">More jobs', first)
    assert more, "the next page's link keeps the filters"
    second = client.get(more.group(1).replace("&amp;", "&")).text
    assert ROW.findall(second[second.index('id="jobs-title"') :]) == [
        f"job-{i}" for i in range(50, 54)
    ]  # job-54 was shown first already
    failing = client.get("/", params={"state": "failing"}).text
    assert ROW.findall(failing[failing.index('id="jobs-title"') :]) == ["job-54"]
    searched = client.get("/", params={"q": "OTH"}).text
    assert ROW.findall(searched[searched.index('id="jobs-title"') :]) == ["other"]
    assert 'name="q" type="search" value="OTH"' in searched


def test_the_attention_panel_lists_its_first_few_and_links_to_the_rest(
    api: Api, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With thousands of jobs, hundreds may need attention: the panel lists a few (the
    failing first) and links to the lists of all, so the page stays small."""
    monkeypatch.setattr(pages, "ATTENTION_SHOWN", 2)
    for name in ("a-fails", "b-fails", "c-fails"):
        api.svc.jobs.add(name, JobFields(kind="scripted", retries=0, params={"result": "fail"}))
        api.svc.runs.request(name)
    api.svc.jobs.add("d-stale", JobFields(kind="scripted", cron="0 * * * *"))
    harness.step()
    api.clock.advance(3 * 3600)  # d-stale never succeeded in three hours: stale
    client = sign_in(api, "viewer")

    page = client.get("/").text
    attention = page[: page.index('id="running-title"')]
    assert "Needs attention (4)" in attention
    assert ROW_IN_PANEL.findall(attention) == ["a-fails", "b-fails"]
    assert '<a href="/jobs?state=failing">all 3 failing</a>' in attention
    assert '<a href="/jobs?state=stale">all 1 stale</a>' in attention
    listed = client.get("/jobs", params={"state": "failing"}).text
    assert all(name in listed for name in ("a-fails", "b-fails", "c-fails"))


def test_the_table_leads_with_only_the_failing_jobs_the_panel_shows(
    api: Api, harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many jobs fail, the first page's lead is as long as the panel: the
    others fail in their place by name, and the panel links to all of them."""
    monkeypatch.setattr(pages, "ATTENTION_SHOWN", 2)
    for name in ("a-quiet", "x-fails", "y-fails", "z-fails"):
        failing = name.endswith("fails")
        fields = JobFields(kind="scripted", retries=0, params={"result": "fail"})
        api.svc.jobs.add(name, fields if failing else JobFields(kind="scripted"))
        if failing:
            api.svc.runs.request(name)
    harness.step()
    client = sign_in(api, "viewer")

    page = client.get("/").text
    table = page[page.index('id="running-title"') :]
    assert ROW.findall(table) == ["x-fails", "y-fails", "a-quiet", "z-fails"]
