"""The run page's live stream, held by a real client of a real server: several pages
of one run share its poll, a revoked session's stream ends within the re-check
period, and a page that goes away takes its run's poll with it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx

from synchub.services.jobs.fields import JobFields
from synchub.services.run_feeds import RECHECK_S
from tests.api.conftest import PERSONAS, Api, ok
from tests.api.test_console import sign_in


def console_events(answer: httpx.Response) -> Iterator[tuple[str, str]]:
    """(name, data) of each event of a console stream; keep-alives skipped."""
    name, data = "", []
    for line in answer.iter_lines():
        if not line:
            if name:
                yield name, "\n".join(data)
            name, data = "", []
        elif line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data.append(line.removeprefix("data: "))


def no_poll_left(api: Api) -> bool:
    pollers = list(api.svc.run_feeds._pollers.values())
    return all(not p.feeds and p.task is None for p in pollers)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Until `condition()` holds: the server notices a closed stream on its own time."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_revoked_sessions_stream_ends_within_the_recheck_period(api: Api) -> None:
    api.svc.jobs.add("j", JobFields(kind="scripted"))
    run_id = api.svc.runs.request("j")  # stays pending: nothing runs it
    client = sign_in(api, "viewer")
    within = httpx.Timeout(30, read=10)  # a read this long: the stream did not end
    with client.stream("GET", f"/runs/{run_id}/events", timeout=within) as answer:
        stream = console_events(answer)
        assert next(stream)[0] == "progress"
        ok(api.admin.delete(f"/api/v1/tokens/{PERSONAS['viewer']}"))
        api.clock.advance(RECHECK_S)
        rest = list(stream)
    assert [name for name, _ in rest] == ["end"]
    assert "Your session has ended" in rest[0][1]
    wait_for(lambda: no_poll_left(api), "the run's poll outlived its last stream")


def test_pages_of_one_run_get_the_same_panels_and_leave_no_poll_behind(api: Api) -> None:
    api.svc.jobs.add("j", JobFields(kind="scripted"))
    run_id = api.svc.runs.request("j")
    clients = [sign_in(api, "viewer") for _ in range(3)]
    with (
        clients[0].stream("GET", f"/runs/{run_id}/events") as a,
        clients[1].stream("GET", f"/runs/{run_id}/events") as b,
        clients[2].stream("GET", f"/runs/{run_id}/events") as c,
    ):
        streams = [console_events(answer) for answer in (a, b, c)]  # each held open
        firsts = [next(stream) for stream in streams]
        pollers = [p for p in api.svc.run_feeds._pollers.values() if p.feeds]
        assert len(pollers) == 1 and list(pollers[0].feeds) == [run_id]
        assert pollers[0].feeds[run_id].followers == 3
    assert firsts[0][0] == "progress" and firsts.count(firsts[0]) == 3
    wait_for(lambda: no_poll_left(api), "the run's poll outlived its streams")
