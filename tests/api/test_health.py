"""GET /api/v1/health: the doctor's checks for the console and for monitoring."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.api.conftest import Api, ok, problem
from tests.support.harness import Harness


def test_health_answers_503_naming_the_problem_and_200_once_it_is_fixed(api: Api) -> None:
    problem(api.anonymous.get("/api/v1/health"), 401)
    api.clock.set(datetime.now(UTC))  # the database's clock is real
    api.svc.settings.home.mkdir(mode=0o700, exist_ok=True)
    response = api.viewer.get("/api/v1/health")
    assert response.status_code == 503
    body = response.json()
    assert body["healthy"] is False
    (scheduler,) = [c for c in body["checks"] if c["check"] == "scheduler"]
    assert scheduler["level"] == "problem" and "synchub serve" in scheduler["fix"]
    Harness(api.svc, api.clock).scheduler.tick()  # a scheduler now leads
    body = ok(api.viewer.get("/api/v1/health"))
    assert body["healthy"] is True
    assert {c["check"] for c in body["checks"]} >= {"rclone", "database", "schema", "clock"}
