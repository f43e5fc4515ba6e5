"""A job's page shows the job's own audit trail, newest first, paged."""

from __future__ import annotations

import re

from synchub.services.jobs.fields import JobFields
from synchub.services.tokens import Role
from tests.api.conftest import ROLES, Api
from tests.api.test_console import sign_in

EVENT = re.compile(r'<tr data-audit-id="(\d+)">.*?<code>([\w.]+)</code>')


def test_a_jobs_page_pages_through_its_own_audit_trail(api: Api) -> None:
    ada = api.svc.for_actor("admin-ada", Role.ADMIN)
    ada.jobs.add("photos", JobFields(kind="scripted"))
    ada.jobs.add("other", JobFields(kind="scripted"))
    for i in range(1, 23):  # 22 edits: with the add, 23 events of photos
        ada.jobs.edit("photos", JobFields(retries=i))
    ada.jobs.edit("other", JobFields(retries=9))
    for role in ROLES:
        client = sign_in(api, role)
        page = client.get("/jobs/photos").text
        events = EVENT.findall(page)
        assert len(events) == 20 and {a for _, a in events} == {"job.edit"}
        # It should say what each change changed, and by whom.
        assert "<code>retries</code>" in page and "<td>admin-ada</td>" in page
        older = re.search(r'href="(/jobs/photos\?audit_before=\d+)#audit-title">Older events', page)
        assert older
        rest = EVENT.findall(client.get(older.group(1)).text)
        assert [a for _, a in rest] == ["job.edit", "job.edit", "job.add"]
        assert int(rest[0][0]) < int(events[-1][0])  # older, none twice
    # The audit's pager keeps the runs' page.
    kept = client.get("/jobs/photos", params={"audit_before": events[-1][0], "before": 1}).text
    assert 'href="/jobs/photos?before=1#audit-title">← Newest events' in kept


def test_a_job_without_audit_events_says_so(api: Api) -> None:
    api.svc.jobs.add("quiet", JobFields(kind="scripted"))
    client = sign_in(api, "viewer")
    page = client.get("/jobs/quiet", params={"audit_before": 1}).text
    assert "No audit events for this job before these." in page
