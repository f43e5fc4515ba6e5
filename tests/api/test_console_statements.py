"""The console's pages ask the database the same few statements however many rows
they show: a page that asked once per job or run shown (an N+1) would grow with
them, and with thousands of jobs take seconds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert, select

from synchub.services.jobs.fields import JobFields
from synchub.services.tokens import TOUCHES
from synchub.store import claim as claims
from synchub.store.claim import Claim
from synchub.store.db import transaction
from synchub.store.tables import JobRow, RunRow
from synchub.web.folders import PAGE
from tests.api.conftest import Api
from tests.api.test_console import sign_in
from tests.api.test_console_folders import watch_many
from tests.support.harness import Harness
from tests.support.statements import listening, statements


def asked(api: Api, client: httpx.Client, path: str) -> list[str]:
    """The statements one request for `path` makes (after a first, which fills the
    caches a long-running server has filled, and whose use of the credential is
    written meanwhile by a thread of its own)."""
    assert client.get(path).status_code == 200
    TOUCHES.wait()
    with statements(api.svc.db) as seen:
        assert client.get(path).status_code == 200
    return seen


def running(api: Api, harness: Harness, names: list[str]) -> None:
    """A run of each of these new jobs, running under a stand-in worker."""
    ids = []
    for name in names:
        api.svc.jobs.add(name, JobFields(kind="scripted", params={"result": "block"}))
        ids.append(api.svc.runs.request(name))
    harness.scheduler.tick()  # queued, handed to an executor that does not run them
    with transaction(api.svc.sessions) as session:
        for run_id in ids:
            assert claims.claim(session, run_id, worker="w", now=api.clock.now()) == Claim.CLAIMED


def failed(api: Api, harness: Harness, names: list[str]) -> None:
    for name in names:
        api.svc.jobs.add(name, JobFields(kind="scripted", params={"result": "fail"}, retries=0))
        api.svc.runs.request(name)
    harness.step()


def test_the_dashboard_asks_as_much_for_many_running_runs_as_for_one(
    api: Api, harness: Harness
) -> None:
    client = sign_in(api, "viewer")
    running(api, harness, ["one"])
    few = asked(api, client, "/")
    running(api, harness, ["two", "three", "four"])
    many = asked(api, client, "/")
    assert "four" in client.get("/").text
    assert len(many) == len(few), "\n".join(many)


def test_the_dashboard_asks_as_much_for_many_failing_jobs_as_for_one(
    api: Api, harness: Harness
) -> None:
    client = sign_in(api, "viewer")
    failed(api, harness, ["one"])
    few = asked(api, client, "/")
    failed(api, harness, ["two", "three", "four"])
    many = asked(api, client, "/")
    assert "Needs attention (4)" in client.get("/").text
    assert len(many) == len(few), "\n".join(many)


def test_the_job_list_and_the_runs_ask_as_much_for_many_rows_as_for_one(
    api: Api, harness: Harness
) -> None:
    client = sign_in(api, "viewer")
    failed(api, harness, ["one"])
    few = {path: asked(api, client, path) for path in ("/jobs", "/runs", "/jobs/one")}
    failed(api, harness, ["two", "three", "four"])
    for _ in range(3):
        api.svc.runs.request("one")
    harness.step()
    for path, before in few.items():
        now = asked(api, client, path)
        assert len(now) == len(before), f"{path}:\n" + "\n".join(now)


def test_the_folders_page_asks_as_much_for_many_folders_as_for_one(
    api: Api, tmp_path: Path
) -> None:
    client = sign_in(api, "viewer")
    watch_many(api, tmp_path, ["one"])
    few = asked(api, client, "/folders")
    watch_many(api, tmp_path, [f"f{i:02}" for i in range(PAGE + 1)])
    many = asked(api, client, "/folders")
    assert client.get("/folders").text.count("<tr data-job=") == PAGE  # a page of them
    assert len(many) == len(few), "\n".join(many)


@contextmanager
def sqlite_steps(engine: Engine) -> Iterator[list[int]]:
    """How many hundred steps SQLite's engine takes for the statements sent within
    the block (none counted on another database): the work of reading rows, which a
    statement count does not show (one statement may read a row per job)."""
    steps = [0]
    touched: list[Any] = []

    def tick() -> int:
        steps[0] += 1
        return 0  # go on

    def before(conn: Any, *rest: Any) -> None:
        raw = conn.connection.driver_connection
        if engine.dialect.name != "sqlite":
            return
        raw.set_progress_handler(tick, 100)
        touched.append(raw)

    try:
        with listening(engine, before):
            yield steps
    finally:
        for raw in touched:
            raw.set_progress_handler(None, 0)


def quiet_jobs(api: Api, first: int, count: int) -> None:
    """`count` enabled jobs that need no attention: no schedule asks them to succeed."""
    for number in range(first, first + count):
        api.svc.jobs.add(f"quiet-{number:04}", JobFields(kind="scripted"))


def test_the_dashboard_reads_as_much_for_many_jobs_as_for_a_page_of_them(
    api: Api, harness: Harness
) -> None:
    """Which jobs need attention is found through the jobs' summaries, not by a look
    at every job: with five times the jobs the dashboard (and its failing and stale
    lists) asks the same statements and reads about as much."""
    client = sign_in(api, "viewer")
    failed(api, harness, ["one", "two"])
    quiet_jobs(api, 0, 60)
    paths = ("/", "/jobs?state=failing", "/jobs?state=stale")
    few = {path: asked(api, client, path) for path in paths}
    with sqlite_steps(api.svc.db) as before:
        assert client.get("/").status_code == 200
    quiet_jobs(api, 60, 240)
    with sqlite_steps(api.svc.db) as after:
        assert client.get("/").status_code == 200
    for path, statements_before in few.items():
        assert len(asked(api, client, path)) == len(statements_before), path
    if api.svc.db.dialect.name == "sqlite":  # the engine's steps are counted on SQLite
        assert after[0] <= before[0] * 1.2, (before, after)


def ended_runs(api: Api, names: list[str], count: int) -> None:
    """`count` ended runs of each of these jobs, written as a long history is."""
    at = api.clock.now()
    with transaction(api.svc.sessions) as session:
        for name in names:
            job_id = session.scalar(select(JobRow.id).where(JobRow.name == name))
            runs = [
                {"job_id": job_id, "job_name": name, "trigger": "manual", "state": "succeeded",
                 "queue": "default", "not_before": at, "created_at": at, "started_at": at,
                 "finished_at": at}
                for _ in range(count)
            ]  # fmt: skip
            session.execute(insert(RunRow), runs)


def test_the_folders_page_reads_as_much_for_long_histories_and_many_other_jobs(
    api: Api, tmp_path: Path
) -> None:
    """The watched jobs are found through an index of their own, and when each last
    ended with one look at its runs: with many more jobs that are not watched, and
    a long history for each folder, the page asks the same few statements and reads
    about as much."""
    client = sign_in(api, "viewer")
    watch_many(api, tmp_path, ["one", "two"])
    ended_runs(api, ["one", "two"], 3)
    few = asked(api, client, "/folders")
    # The visitor; the folders with their last ends, the running jobs, the chain
    # links, how many folders; the tasks with their job's names, how many.
    assert len(few) <= 7, "\n".join(few)
    with sqlite_steps(api.svc.db) as before:
        assert client.get("/folders").status_code == 200
    quiet_jobs(api, 0, 200)
    ended_runs(api, ["one", "two"], 400)
    with sqlite_steps(api.svc.db) as after:
        assert client.get("/folders").status_code == 200
    assert len(asked(api, client, "/folders")) == len(few)
    if api.svc.db.dialect.name == "sqlite":  # the engine's steps are counted on SQLite
        # A few hundred steps either way; a walk of every job's name and each
        # folder's runs took over a hundred times as many.
        assert after[0] <= before[0] + 3, (before, after)


#: The statements the dashboard asks with two jobs failing and one running: the
#: token, the panel and the jobs (one read), the runs running, the system's state and
#: the activity chart. Reading the panel and the jobs apart asked 27.
DASHBOARD_STATEMENTS = 19


def test_the_dashboard_reads_each_jobs_summary_runs_and_links_once(
    api: Api, harness: Harness
) -> None:
    """The "needs attention" panel and the jobs table share one read: the summaries,
    the newest runs and the chain links of the jobs they show are asked once."""
    client = sign_in(api, "viewer")
    failed(api, harness, ["one", "two"])
    running(api, harness, ["three"])
    seen = asked(api, client, "/")
    assert sum("FROM job_chains" in s for s in seen) == 1, "\n".join(seen)
    assert len(seen) <= DASHBOARD_STATEMENTS, "\n".join(seen)
