"""/api/v1/schedules/validate, /api/v1/scheduler and /api/v1/audit."""

from __future__ import annotations

from synchub.core.clock import FakeClock
from synchub.services.jobs.fields import JobFields
from tests.api.conftest import Api, ok, problem
from tests.support.harness import Harness

RIGA = "Europe/Riga"


def validate(api: Api, **body: object) -> dict[str, object]:
    result: dict[str, object] = ok(api.viewer.post("/api/v1/schedules/validate", json=body))
    return result


def test_a_valid_schedule_is_described_with_its_next_fires(api: Api) -> None:
    # 2025-10-26 04:00 EEST -> 03:00 EET: local 03:30 happens twice, and fires once.
    verdict = validate(api, cron="30 3 * * *", tz=RIGA, count=2, after="2025-10-25T12:00:00+03:00")
    assert verdict["valid"] is True and verdict["kind"] == "cron"
    assert verdict["description"] == "At 03:30 every day (Europe/Riga)"
    # It should give them in the schedule's zone, each with its own offset.
    assert verdict["next"] == ["2025-10-26T03:30:00+03:00", "2025-10-27T03:30:00+02:00"]
    # It should count an interval from now (09:00 UTC on the test clock).
    verdict = validate(api, every=900, count=2)
    assert verdict["kind"] == "interval" and verdict["description"] == "Every 15m"
    assert verdict["next"] == ["2025-06-02T09:15:00Z", "2025-06-02T09:30:00Z"]


def test_an_invalid_schedule_says_what_and_where(api: Api) -> None:
    verdict = validate(api, cron="0 25 * * *", tz="UTC")
    assert verdict["valid"] is False
    assert (verdict["field"], verdict["part"]) == ("cron", "hour")
    assert "bad hour '25'" in str(verdict["error"])
    verdict = validate(api, cron="0 2 * * *", tz="Mars/Olympus")
    assert (verdict["valid"], verdict["field"]) == (False, "tz")
    verdict = validate(api, every="soon")
    assert (verdict["valid"], verdict["field"]) == (False, "every")
    verdict = validate(api, every="99999999999w")
    assert verdict["error"] == "Bad interval '99999999999w': it must be at most 10 years"
    assert validate(api)["valid"] is False  # neither cron nor interval
    assert validate(api, cron="0 0 30 2 *")["error"] == (
        "Bad cron expression '0 0 30 2 *': it can never fire: no month in '2' has day '30'"
    )


def test_the_scheduler_status_shows_the_leader_and_the_backlog(
    api: Api, harness: Harness, clock: FakeClock
) -> None:
    status = ok(api.viewer.get("/api/v1/scheduler"))
    assert status["leader"] is None and status["leader_alive"] is False
    assert status["this_process"] is None  # this app runs no scheduler
    api.svc.jobs.add("j", JobFields(kind="scripted"))
    api.svc.runs.request("j")
    api.svc.runs.request("j")
    assert ok(api.viewer.get("/api/v1/scheduler"))["due_not_dispatched"] == 2
    harness.step()
    status = ok(api.viewer.get("/api/v1/scheduler"))
    assert status["leader"] == "node-a" and status["leader_alive"] is True
    assert status["lease_expires_at"] == "2025-06-02T09:00:10Z"
    assert status["due_not_dispatched"] == 0
    clock.advance(11)
    assert ok(api.viewer.get("/api/v1/scheduler"))["leader_alive"] is False


def test_the_audit_log_is_filtered_and_paged(api: Api, clock: FakeClock) -> None:
    for i in range(5):
        ok(api.admin.post("/api/v1/jobs", json={"name": f"j{i}", "kind": "scripted"}), 201)
        clock.advance(60)
    ok(api.operator.post("/api/v1/jobs/j0/disable"))

    def events(**params: object) -> list[str]:
        page = ok(api.viewer.get("/api/v1/audit", params=params))
        return [f"{e['actor']} {e['action']} {e['target']}" for e in page["data"]]

    assert events(actor="operator-olga") == ["operator-olga job.disable j0"]
    assert events(action="job.add", limit=2) == ["admin-ada job.add j4", "admin-ada job.add j3"]
    assert events(target_type="job", target="j0") == [
        "operator-olga job.disable j0",
        "admin-ada job.add j0",
    ]
    assert events(since="2025-06-02T09:01:00Z", until="2025-06-02T09:03:00Z") == [
        "admin-ada job.add j2",
        "admin-ada job.add j1",
    ]
    # It should walk every job event once, page by page, newest first.
    seen: list[int] = []
    params: dict[str, object] = {"action": "job", "limit": 2}
    while True:
        page = ok(api.viewer.get("/api/v1/audit", params=params))
        seen += [e["id"] for e in page["data"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == 6 and seen == sorted(seen, reverse=True)
    problem(api.viewer.get("/api/v1/audit", params={"since": "2025-06-02T09:00:00"}), 422)
