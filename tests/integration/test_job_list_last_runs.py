"""`job list`'s last-run column: each job's newest run that started or ended, read
for all jobs at once, not once per job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.jobs.job_views import LastRun
from tests.support.harness import Harness


@pytest.fixture
def harness(svc: Services, clock: FakeClock) -> Harness:
    return Harness(svc, clock)


def scripted(result: str) -> JobFields:
    return JobFields(kind="scripted", params={"result": result}, retries=0)


@contextmanager
def statements(svc: Services) -> Iterator[list[str]]:
    """The SQL statements run on the services' database meanwhile."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(svc.db, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(svc.db, "before_cursor_execute", count)


def test_each_jobs_last_run_is_its_newest_that_started_or_ended(
    svc: Services, clock: FakeClock, harness: Harness
) -> None:
    svc.jobs.add("good", scripted("ok"))
    svc.jobs.add("bad", scripted("fail"))
    svc.jobs.add("never", scripted("ok"))
    svc.runs.request("good")
    bad = svc.runs.request("bad")
    harness.step()
    clock.advance(60)
    svc.runs.request("good")  # waiting: not a last run yet
    ids = {v.name: v.id for v in svc.jobs.list()}
    last = svc.overview.last_runs()
    assert set(last) == {ids["good"], ids["bad"]}
    assert last[ids["bad"]] == LastRun(
        id=bad,
        state="failed",
        attempt=1,
        dry_run=False,
        at=svc.runs.show(bad).finished_at,
    )
    assert last[ids["good"]].state == "succeeded"


def test_the_last_runs_of_many_jobs_take_as_many_queries_as_of_one(
    svc: Services, harness: Harness
) -> None:
    svc.jobs.add("job-0", scripted("ok"))
    svc.runs.request("job-0")
    harness.step()
    with statements(svc) as one:
        assert len(svc.overview.last_runs()) == 1
    for number in range(1, 25):
        svc.jobs.add(f"job-{number}", scripted("ok"))
        svc.runs.request(f"job-{number}")
    harness.step()
    with statements(svc) as many:
        assert len(svc.overview.last_runs()) == 25
    assert 0 < len(many) == len(one)
