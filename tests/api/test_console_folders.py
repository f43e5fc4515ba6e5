"""The console's watched folders page: each folder's state and problem, its file
tasks, Retry and Remove for an operator, nothing to write for a viewer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synchub.services.jobs.fields import JobFields
from synchub.web.folders import PAGE
from tests.api.conftest import ROLES, Api
from tests.api.test_console import csrf_of, sign_in
from tests.api.test_tasks_api import seen
from tests.support.harness import Harness


@pytest.fixture
def inbox(api: Api, tmp_path: Path) -> dict[str, int]:
    """A watched folder `inbox` with three files seen, and one whose folder is gone."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (src / name).write_text(name)
    api.svc.jobs.add(
        "inbox", JobFields(params={"source": str(src), "destination": str(dst)}, watch=True)
    )
    gone = tmp_path / "gone"
    gone.mkdir()
    api.svc.jobs.add(
        "lost", JobFields(params={"source": str(gone), "destination": str(dst)}, watch=True)
    )
    gone.rmdir()
    seen(api, "inbox", "a.txt", "b.txt", "c.txt")
    tasks, _ = api.svc.tasks.page(job="inbox")
    return {t.path: t.id for t in tasks}


@pytest.mark.parametrize("role", ROLES)
def test_the_folders_page_shows_each_folder_and_its_tasks(
    api: Api, inbox: dict[str, int], role: str
) -> None:
    client = sign_in(api, role)
    page = client.get("/folders")
    assert page.status_code == 200
    text = page.text
    assert 'href="/folders" aria-current="page"' in text
    assert 'data-state="watching"' in text and 'data-state="not-watched"' in text
    problem = api.svc.jobs.show("lost").watch_problem
    assert problem and problem in text
    assert 'File tasks (<span id="task-total">3</span>)' in text
    assert text.count('data-task-id="') == 3
    buttons = re.findall(r">(Retry|Remove)</button>", text)
    if role == "viewer":
        assert buttons == []
        assert len(re.findall(r'method="post"', text)) == 1  # sign out only
    else:
        assert buttons == ["Retry", "Remove"] * 3
    pending = client.get("/folders", params={"state": "pending", "job": "inbox"}).text
    assert len(re.findall(r'data-task-id="\d+" data-state="pending"', pending)) == 3
    assert 'data-task-id="' not in client.get("/folders", params={"state": "done"}).text
    bad = client.get("/folders", params={"state": "sent"})
    assert bad.status_code == 422 and "Bad state" in bad.text


def test_an_operator_retries_and_removes_a_task(
    api: Api, harness: Harness, inbox: dict[str, int]
) -> None:
    client = sign_in(api, "operator")
    csrf = csrf_of(client.get("/folders"))
    a = inbox["a.txt"]
    answer = client.post(
        f"/folders/tasks/{a}/retry?back=/folders?state%3Dqueued", data={"csrf": csrf}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/folders?state=queued"
    task = api.svc.tasks.show(a)
    assert task.state == "queued" and task.run_id is not None
    page = client.get(answer.headers["location"]).text
    assert f"sent again, alone, by run {task.run_id}" in page  # the flash
    assert f'data-task-id="{a}" data-state="queued"' in page and "on its way" in page
    # It should refuse a second retry while the file goes already, in words.
    again = client.post(f"/folders/tasks/{a}/retry", data={"csrf": csrf})
    assert again.status_code == 409 and "cannot be retried now" in again.text
    harness.step()
    assert api.svc.tasks.show(a).state == "done"
    # A write is sent back to the folders page only, never elsewhere.
    b = inbox["b.txt"]
    answer = client.post(f"/folders/tasks/{b}/remove?back=//evil.example/", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/folders"
    assert b not in {t.id for t in api.svc.tasks.page(job="inbox")[0]}
    assert client.post(f"/folders/tasks/{b}/remove", data={"csrf": csrf}).status_code == 404


def test_a_viewers_or_a_forged_task_write_is_refused(api: Api, inbox: dict[str, int]) -> None:
    viewer = sign_in(api, "viewer")
    csrf = csrf_of(viewer.get("/folders"))
    c = inbox["c.txt"]
    for action in ("retry", "remove"):
        answer = viewer.post(f"/folders/tasks/{c}/{action}", data={"csrf": csrf})
        assert answer.status_code == 403 and "has role viewer" in answer.text
    operator = sign_in(api, "operator")
    for action in ("retry", "remove"):
        assert operator.post(f"/folders/tasks/{c}/{action}", data={"csrf": csrf}).status_code == 403
    assert api.svc.tasks.show(c).state == "pending"


def test_a_visitor_without_a_session_is_sent_to_sign_in(api: Api) -> None:
    from tests.api.test_console import browser

    answer = browser(api).get("/folders")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Ffolders"


def _events(client: object, params: dict[str, str], count: int) -> list[tuple[str, str]]:
    """The first `count` events of the folders' stream, as (name, HTML)."""
    import httpx

    assert isinstance(client, httpx.Client)
    found: list[tuple[str, str]] = []
    with client.stream("GET", "/folders/events", params=params) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        name, data = "", []
        for line in answer.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif not line and name:
                found.append((name, "\n".join(data)))
                name, data = "", []
                if len(found) == count:
                    break
    return found


def test_the_folders_page_follows_its_tasks_live(api: Api, inbox: dict[str, int]) -> None:
    """The page names what it drew; the stream sends the folders and the tasks again
    only once they differ from that (here: a task removed), with the same filters."""
    client = sign_in(api, "operator")
    page = client.get("/folders", params={"job": "inbox"}).text
    found = re.search(r'sse-connect="/folders/events\?([^"]+)"', page)
    assert found and "job=inbox" in found.group(1)
    params = dict(p.split("=", 1) for p in found.group(1).replace("&amp;", "&").split("&"))
    api.svc.tasks.remove(inbox["a.txt"])
    events = dict(_events(client, params, 2))
    assert set(events) == {"folders", "tasks"}
    assert '<span id="task-total" hx-swap-oob="true">2</span>' in events["tasks"]
    assert events["tasks"].count('data-task-id="') == 2
    assert ">Retry</button>" in events["tasks"]  # the operator's controls, with a CSRF token
    assert csrf_of(client.get("/folders")) in events["tasks"]
    viewer = sign_in(api, "viewer")
    tasks = dict(_events(viewer, {"job": "inbox"}, 2))["tasks"]
    assert "<button" not in tasks and 'method="post"' not in tasks
    bad = viewer.get("/folders/events", params={"state": "sent"})
    assert bad.status_code == 422 and "Bad state" in bad.text


def watch_many(api: Api, root: Path, names: list[str]) -> None:
    """A watched folder for each name, all sending to one place."""
    for name in names:
        (root / name).mkdir()
        params = {"source": str(root / name), "destination": str(root / "out")}
        api.svc.jobs.add(name, JobFields(params=params, watch=True))


def test_the_folders_page_pages_its_folders_and_keeps_the_filters(
    api: Api, inbox: dict[str, int], tmp_path: Path
) -> None:
    names = [f"f{i:02}" for i in range(PAGE + 1)]
    watch_many(api, tmp_path, names)
    client = sign_in(api, "viewer")
    first = client.get("/folders", params={"job": "inbox", "state": "pending"}).text
    # It should show a page of folders by name, and say how many there are in all.
    shown = re.findall(r'<tr data-job="([^"]+)"', first)
    assert shown == names[:PAGE]
    assert f'Folders (<span id="folder-total">{PAGE + 3}</span>)' in first
    assert "First folders" not in first
    # It should keep the tasks' filters on the next page of folders, and the reverse.
    (more,) = re.findall(r'<a href="([^"]+)">More folders', first)
    assert more == f"/folders?job=inbox&amp;state=pending&amp;after={names[PAGE - 1]}"
    second = client.get(more.replace("&amp;", "&")).text
    assert re.findall(r'<tr data-job="([^"]+)"', second) == [names[PAGE], "inbox", "lost"]
    assert "More folders" not in second
    assert len(re.findall(r'data-task-id="\d+" data-state="pending"', second)) == 3
    assert '<a href="/folders?job=inbox&amp;state=pending">← First folders' in second
    assert f'name="after" value="{names[PAGE - 1]}"' in second  # the filter form keeps it
    stream = re.search(r'sse-connect="/folders/events\?([^"]+)"', second)
    assert stream and f"after={names[PAGE - 1]}" in stream.group(1)
    # It should say in words what is wrong with a cursor it did not make.
    bad = client.get("/folders", params={"after": "no such name!"})
    assert bad.status_code == 422 and "Bad after" in bad.text
