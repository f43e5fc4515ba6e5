"""GET /runs/{id}/events: live progress, log lines and a final event, read by a real
HTTP client from a real server; `Last-Event-ID` resumes where a client left off."""

from __future__ import annotations

import threading
from contextlib import ExitStack

import httpx
import pytest

from synchub.api import sse
from synchub.services.jobs.fields import JobFields
from synchub.store import logs as log_store
from synchub.store.db import transaction
from tests.api.conftest import Api, ok, problem
from tests.api.sse_client import Event, events
from tests.support.harness import Harness
from tests.support.kinds import ScriptedKind
from tests.support.statements import statements


def test_a_client_follows_a_run_to_its_end_and_resumes_after_a_reconnect(
    api: Api, harness: Harness, scripted: ScriptedKind
) -> None:
    api.svc.jobs.add("j", JobFields(kind="scripted", params={"result": "block", "lines": 3}))
    run_id = api.svc.runs.request("j")
    worker = threading.Thread(target=harness.step)  # runs it here until released
    worker.start()
    seen: list[Event] = []
    try:
        with api.viewer.stream("GET", f"/api/v1/runs/{run_id}/events", timeout=30) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for item in events(response):
                seen.append(item)
                if sum(e.name == "progress" for e in seen) == 2:
                    scripted.release.set()
                if item.name == "end":
                    break
    finally:
        scripted.release.set()
        worker.join()

    names = [e.name for e in seen]
    # It should open with the run's state, stream its lines, and close with its end.
    assert names[0] == "state" and names[-2:] == ["state", "end"]
    assert seen[-1].data["state"] == "succeeded"
    assert seen[-1].data["celery_state"] == "SUCCESS"
    logs = [e for e in seen if e.name == "log"]
    assert [e.data["seq"] for e in logs] == [1, 2, 3, 4]
    assert [e.id for e in logs] == ["1", "2", "3", "4"]
    assert logs[1].data["message"].startswith("line 000000")
    progress = [e.data for e in seen if e.name == "progress"]
    assert len(progress) >= 2 and {p["state"] for p in progress} == {"running"}
    assert progress[0]["progress"]["bytes"] == 1 and progress[0]["progress"]["total_bytes"] == 2
    states = [e.data["state"] for e in seen if e.name == "state"]
    assert states[-1] == "succeeded" and "running" in states

    # It should resume after the last line a client saw, without repeating any.
    with api.viewer.stream(
        "GET", f"/api/v1/runs/{run_id}/events", headers={"Last-Event-ID": "2"}
    ) as response:
        again = list(events(response))
    assert [e.data["seq"] for e in again if e.name == "log"] == [3, 4]
    assert again[-1].name == "end" and again[-1].id == "4"


def test_a_stream_ends_when_its_pending_run_is_cancelled(api: Api) -> None:
    api.svc.jobs.add("j", JobFields(kind="scripted"))
    run_id = api.svc.runs.request("j")
    with api.viewer.stream("GET", f"/api/v1/runs/{run_id}/events", timeout=30) as response:
        stream = events(response)
        first = next(stream)
        assert (first.name, first.data["state"]) == ("state", "pending")
        assert api.operator.post(f"/api/v1/runs/{run_id}/cancel").status_code == 200
        rest = list(stream)
    assert rest[-1].name == "end" and rest[-1].data["state"] == "cancelled"
    assert rest[-1].data["celery_state"] == "REVOKED"


def test_events_of_an_unknown_run_are_a_404_and_a_bad_resume_point_a_422(api: Api) -> None:
    problem(api.viewer.get("/api/v1/runs/12345/events"), 404)
    api.svc.jobs.add("j", JobFields(kind="scripted"))
    run_id = api.svc.runs.request("j")
    response = api.viewer.get(f"/api/v1/runs/{run_id}/events", headers={"Last-Event-ID": "x"})
    problem(response, 422)
    problem(api.anonymous.get(f"/api/v1/runs/{run_id}/events"), 401)


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_an_open_stream_ends_soon_after_its_token_is_revoked_or_expires(api: Api, how: str) -> None:
    """On the code before, the stream of a pending run went on (keep-alives every 15 s)
    for a token that no longer worked for anything else."""
    secret, _ = api.svc.tokens.create("dashboard", "viewer", expires="1h")
    api.svc.jobs.add("j", JobFields(kind="scripted"))
    run_id = api.svc.runs.request("j")  # stays pending: nothing runs it
    # A read that waits this long means the stream did not end (it wakes every 0.5 s).
    within = httpx.Timeout(30, read=10)
    with (
        api.client(secret) as client,
        client.stream("GET", f"/api/v1/runs/{run_id}/events", timeout=within) as response,
    ):
        stream = events(response)
        first = next(stream)
        assert (first.name, first.data["state"]) == ("state", "pending")
        if how == "revoked":
            ok(api.admin.delete("/api/v1/tokens/dashboard"))
            api.clock.advance(sse.RECHECK_S)  # the token is checked again this often
        else:
            api.clock.advance(3600)
        rest = list(stream)
    # It should say why it ended, then end.
    assert [e.name for e in rest] == ["denied"]
    assert rest[0].data["status"] == 401
    expected = "unknown or revoked" if how == "revoked" else "'dashboard' has expired"
    assert expected in rest[0].data["detail"]
    # It should stay shut to that token.
    with api.client(secret) as client:
        problem(client.get(f"/api/v1/runs/{run_id}/events"), 401)


def test_streams_of_one_run_read_its_new_lines_once_for_all(api: Api) -> None:
    """On the code before, each stream read the run and its log itself, twice a second."""
    api.svc.jobs.add("j", JobFields(kind="scripted"))
    run_id = api.svc.runs.request("j")  # stays pending: nothing runs it
    clients = [api.client(api.tokens["viewer"]) for _ in range(5)]
    with ExitStack() as held:
        streams = []
        for client in clients:
            held.enter_context(client)
            answer = held.enter_context(
                client.stream("GET", f"/api/v1/runs/{run_id}/events", timeout=30)
            )
            streams.append(events(answer))
        assert all(next(stream).name == "state" for stream in streams)
        with statements(api.svc.db) as sent:
            line = (1, api.clock.now(), "info", "hello")
            with transaction(api.svc.sessions) as session:
                log_store.append(session, run_id, [line], [], dropped_lines=0, dropped_bytes=0)
            got = [next(e for e in stream if e.name == "log") for stream in streams]
    assert [e.data["message"] for e in got] == ["hello"] * 5
    # It should read the new line once for the five streams.
    reads = [s for s in sent if "FROM run_logs" in s and "max(" not in s]
    assert len(reads) == 1, reads
