"""The API as `synchub serve` runs it: scheduler and worker pool in the process, real
rclone, real clock, a real HTTP client; a user's first steps, end to end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from synchub.api.app import create_app
from synchub.config import Settings
from synchub.processes.node import Node
from synchub.services import Services
from tests.api.conftest import Served, Switch, ok
from tests.api.sse_client import events


@pytest.fixture
def client(settings: Settings, server: tuple[Served, Switch]) -> Iterator[httpx.Client]:
    fast = settings.model_copy(
        update={"poll_interval": 0.1, "scheduler_lease": 3.0, "run_lease": 5.0}
    )
    svc = Services(fast, actor="serve")
    node = Node(svc, workers=2)
    node.start()
    served, switch = server
    switch.app = create_app(node)
    token, _ = svc.tokens.create("first-admin", "admin")
    with httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        http.node = node  # type: ignore[attr-defined]
        yield http
    switch.app = None
    node.stop(5)
    svc.close()


def test_create_a_remote_and_a_job_run_it_follow_it_and_reschedule_it(
    client: httpx.Client, tmp_path: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.txt").write_text("beta")
    ok(client.post("/api/v1/remotes", json={"name": "laptop", "type": "local"}), 201)
    ok(client.post("/api/v1/remotes", json={"name": "nas", "type": "local"}), 201)
    job = ok(
        client.post(
            "/api/v1/jobs",
            json={
                "name": "photos",
                "params": {"source": f"laptop:{src}", "destination": f"nas:{dst}"},
                "cron": "0 3 * * *",
                "tz": "UTC",
            },
        ),
        201,
    )
    assert job["schedule"]["description"] == "At 03:00 every day (UTC)"

    run = ok(client.post("/api/v1/jobs/photos/run"), 202)
    with client.stream("GET", f"/api/v1/runs/{run['id']}/events") as response:
        final = [e for e in events(response) if e.name == "end"]
    # It should have run rclone for real and reported what it changed.
    assert final[0].data["state"] == "succeeded", final[0].data
    assert (dst / "sub" / "b.txt").read_text() == "beta"
    files = ok(client.get(f"/api/v1/runs/{run['id']}/files"))
    assert sorted(f["path"] for f in files["data"]) == ["a.txt", "sub/b.txt"]
    status = ok(client.get("/api/v1/scheduler"))
    assert status["leading_here"] is True
    assert status["this_process"] == client.node.name  # type: ignore[attr-defined]
    # It should show its own pool as the one worker, taking every queue.
    pool = ok(client.get("/api/v1/workers"))
    assert pool["executor"] == "local"
    assert [(w["kind"], w["queues"], w["concurrency"]) for w in pool["workers"]] == [
        ("local", ["*"], 2)
    ]
    assert ok(client.get("/readyz"))["problems"] == []

    # It should apply an edited schedule at once: the next fire is a second after the
    # edit, not the old cron time (how soon it starts is measured in bench/, not here).
    edited_at = datetime.now(UTC)
    ok(client.patch("/api/v1/jobs/photos", json={"every": "1s"}))
    deadline = time.monotonic() + 60
    while not (page := ok(client.get("/api/v1/runs", params={"trigger": "schedule"})))["count"]:
        assert time.monotonic() < deadline, "the new schedule never fired"
        time.sleep(0.05)
    fired_for = datetime.fromisoformat(page["data"][-1]["scheduled_for"])
    assert fired_for - edited_at <= timedelta(seconds=2)
    ok(client.post("/api/v1/jobs/photos/disable"))
