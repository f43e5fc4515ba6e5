"""The run page's log: a level filter and a text search, done by the services, kept
by the live stream (which moves past the lines the filter leaves out)."""

from __future__ import annotations

import re

import pytest

from synchub.core.errors import InvalidInput
from synchub.services.jobs.fields import JobFields
from synchub.store import logs as log_store
from synchub.store.db import transaction
from tests.api.conftest import Api
from tests.api.test_console import sign_in
from tests.support.harness import Harness

LINE = re.compile(r'<li data-level="(\w+)">.*? <span class="level">\w+</span> (.*?)</li>')
LINES = [
    ("debug", "listing Album/"),
    ("info", "copied album/001.jpg"),
    ("notice", "Ärger: slow remote"),
    ("warning", "retrying ALBUM/002.jpg"),
    ("error", "failed album/003.jpg: permission denied"),
]


@pytest.fixture
def logged(api: Api, harness: Harness) -> tuple[int, int]:
    """A run that failed, with a line of each level after its own; (its id, the seq
    of its last line before them)."""
    api.svc.jobs.add("photos", JobFields(kind="scripted", params={"result": "fail"}, retries=0))
    run_id = api.svc.runs.request("photos")
    harness.step()
    own = api.svc.runs.log_page(run_id)
    last = own[-1].seq if own else 0
    rows = [(last + i, api.clock.now(), lvl, msg) for i, (lvl, msg) in enumerate(LINES, 1)]
    with transaction(api.svc.sessions) as session:
        log_store.append(session, run_id, rows, [], dropped_lines=0, dropped_bytes=0)
    return run_id, last


def test_the_log_is_filtered_by_level_and_searched_in_any_case(
    api: Api, logged: tuple[int, int]
) -> None:
    run_id, _ = logged
    client = sign_in(api, "viewer")
    page = client.get(f"/runs/{run_id}").text
    assert '<label for="log-level">Level</label>' in page
    assert '<label for="log-q">Search the log</label>' in page
    worse = client.get(f"/runs/{run_id}", params={"level": "warning"}).text
    levels = {lvl for lvl, _ in LINE.findall(worse)}
    assert levels <= {"warning", "error", "critical"} and {"warning", "error"} <= levels
    found = client.get(f"/runs/{run_id}", params={"q": "album"}).text
    assert [m for _, m in LINE.findall(found)] == [m for _, m in LINES if "album" in m.lower()]
    both = client.get(f"/runs/{run_id}", params={"q": "album", "level": "warning"}).text
    assert [lvl for lvl, _ in LINE.findall(both)] == ["warning", "error"]
    umlaut = client.get(f"/runs/{run_id}", params={"q": "ärger"}).text  # not ASCII
    assert [lvl for lvl, _ in LINE.findall(umlaut)] == ["notice"]
    assert f'href="/runs/{run_id}?action=&amp;level=warning"' in worse  # the filter stays
    none = client.get(f"/runs/{run_id}", params={"q": "nowhere"}).text
    assert "No log lines match this filter." in none
    bad = client.get(f"/runs/{run_id}", params={"level": "loud"})
    assert bad.status_code == 422 and "Bad level" in bad.text


def test_the_live_log_keeps_the_filter(api: Api, logged: tuple[int, int]) -> None:
    run_id, last = logged
    client = sign_in(api, "viewer")
    params = {"after": last, "level": "error", "q": "ALBUM"}
    with client.stream("GET", f"/runs/{run_id}/events", params=params) as answer:
        assert answer.status_code == 200
        body = "".join(answer.iter_text())
    log = body.split("event: log\n", 1)[1].split("\n\n", 1)[0]
    assert [lvl for lvl, _ in LINE.findall(log.replace("data: ", ""))] == ["error"]
    bad = client.get(f"/runs/{run_id}/events", params={"level": "loud"})
    assert bad.status_code == 422


def test_a_search_moves_past_the_lines_it_leaves_out(api: Api, logged: tuple[int, int]) -> None:
    """So a follow does not read them again at every poll."""
    run_id, last = logged
    lines, seq = api.svc.runs.log_search(run_id, after_seq=last, search="nowhere")
    assert (lines, seq) == ([], last + len(LINES))
    lines, seq = api.svc.runs.log_search(run_id, after_seq=last, limit=1, level="warning")
    assert [(line.level, seq) for line in lines] == [("warning", last + 4)]
    with pytest.raises(InvalidInput, match="Bad level"):
        api.svc.runs.log_search(run_id, level="loud")
