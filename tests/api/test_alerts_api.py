"""/api/v1/alerts: admins add and remove, everyone signed in reads; URLs never shown."""

from __future__ import annotations

from datetime import datetime, timedelta

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api, ok, problem
from tests.integration.test_alerts import Receiver


def test_an_admin_adds_tests_and_removes_an_alert_and_others_only_read(api: Api) -> None:
    receiver = Receiver()
    try:
        url = receiver.url.replace("json://", "json://bot:s3cret-token@")
        body = {"name": "ops", "url": url, "events": ["failure"], "after": 2}
        problem(api.operator.post("/api/v1/alerts", json=body), 403)
        created = ok(api.admin.post("/api/v1/alerts", json=body), 201)
        assert created["url"] == "json://127.0.0.1/…" and created["after"] == 2
        listed = ok(api.viewer.get("/api/v1/alerts"))
        assert [a["name"] for a in listed["data"]] == ["ops"]
        assert "s3cret" not in api.admin.get("/api/v1/alerts/ops").text
        problem(api.viewer.post("/api/v1/alerts/ops/test"), 403)
        assert ok(api.admin.post("/api/v1/alerts/ops/test")) == {
            "delivered": True,
            "message": "delivered",
        }
        assert receiver.titles() == ["synchub: test message"]
        # It should refuse bad alerts with a clear 422 and store nothing.
        for bad, says in [
            ({**body, "name": "x", "url": "nope"}, "Not a URL Apprise can send to"),
            ({**body, "name": "x", "events": ["boom"]}, "Unknown event 'boom'"),
        ]:
            assert says in problem(api.admin.post("/api/v1/alerts", json=bad), 422)["detail"]
        problem(api.admin.post("/api/v1/alerts", json={**body, "name": "x", "after": 0}), 422)
        problem(api.admin.post("/api/v1/alerts", json={**body, "name": "x", "jobs": ["no"]}), 404)
        problem(api.admin.post("/api/v1/alerts", json=body), 409)
        problem(api.operator.delete("/api/v1/alerts/ops"), 403)
        assert api.admin.delete("/api/v1/alerts/ops").status_code == 204
        problem(api.viewer.get("/api/v1/alerts/ops"), 404)
        metrics = api.admin.get("/metrics").text
        assert 'synchub_alerts_sent_total{result="delivered"}' in metrics
    finally:
        receiver.server.shutdown()


def test_an_admin_edits_an_alert_and_a_bad_edit_changes_nothing(api: Api) -> None:
    receiver = Receiver()
    try:
        body = {"name": "ops", "url": "json://127.0.0.1:9/", "after": 2}
        ok(api.admin.post("/api/v1/alerts", json=body), 201)
        problem(api.operator.patch("/api/v1/alerts/ops", json={"after": 3}), 403)
        url = receiver.url.replace("json://", "json://bot:s3cret-token@")
        edited = ok(api.admin.patch("/api/v1/alerts/ops", json={"url": url, "events": ["failure"]}))
        assert edited["events"] == ["failure"] and edited["after"] == 2
        digest = {"events": ["digest"], "digest_at": "06:30"}
        assert ok(api.admin.patch("/api/v1/alerts/ops", json=digest))["digest_at"] == "06:30"
        assert "s3cret" not in api.admin.get("/api/v1/audit").text
        before = ok(api.admin.get("/api/v1/alerts/ops"))
        for bad in [
            {"url": "nope", "after": 3},
            {"events": ["boom"], "after": 3},
            {"after": 0},
            {"digest_at": "25:00", "after": 3},
            {"color": "red"},
        ]:
            problem(api.admin.patch("/api/v1/alerts/ops", json=bad), 422)
        problem(api.admin.patch("/api/v1/alerts/ops", json={"jobs": ["no"], "after": 3}), 404)
        problem(api.admin.patch("/api/v1/alerts/nope", json={"after": 3}), 404)
        assert ok(api.admin.get("/api/v1/alerts/ops")) == before
        assert ok(api.admin.post("/api/v1/alerts/ops/test"))["delivered"] is True
    finally:
        receiver.server.shutdown()


def test_an_operator_mutes_and_unmutes_a_job(api: Api, svc: Services, clock: FakeClock) -> None:
    svc.jobs.add("nightly", JobFields(kind="scripted"))
    problem(api.viewer.post("/api/v1/jobs/nightly/mute", json={"duration": "2h"}), 403)
    muted = ok(api.operator.post("/api/v1/jobs/nightly/mute", json={"duration": "2h"}))
    until = datetime.fromisoformat(muted["muted_until"])
    assert until == clock.now() + timedelta(hours=2)
    assert ok(api.viewer.get("/api/v1/jobs/nightly"))["muted_until"] == muted["muted_until"]
    # It should take seconds as a number, and refuse bad durations changing nothing.
    by_number = ok(api.operator.post("/api/v1/jobs/nightly/mute", json={"duration": 60}))
    assert datetime.fromisoformat(by_number["muted_until"]) == clock.now() + timedelta(minutes=1)
    for bad in [{"duration": "2"}, {"duration": 0}, {"duration": "-1h"}, {}, {"for": "2h"}]:
        problem(api.operator.post("/api/v1/jobs/nightly/mute", json=bad), 422)
    assert ok(api.viewer.get("/api/v1/jobs/nightly"))["muted_until"] == by_number["muted_until"]
    problem(api.operator.post("/api/v1/jobs/nope/mute", json={"duration": "2h"}), 404)
    assert ok(api.operator.post("/api/v1/jobs/nightly/unmute"))["muted_until"] is None
