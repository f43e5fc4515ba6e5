"""Job chains over real databases and real rclone: a job runs after another's retry
chain ends in the outcome it asked for (`--after JOB[:success|failure|always]`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import event

from synchub.core.chains import ChainOn
from synchub.core.clock import FakeClock
from synchub.core.errors import Conflict, InvalidInput
from synchub.core.runs import RunState
from synchub.execution.outcomes import end_run
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.jobs.job_views import ChainLink
from synchub.store.db import transaction
from tests.support.harness import Harness


def copy_job(src: Path, dst: Path, **kw: object) -> JobFields:
    params = {"op": "copy", "source": str(src), "destination": str(dst)}
    return JobFields(params=params, **kw)  # type: ignore[arg-type]


def command(code: int, **kw: object) -> JobFields:
    argv = [sys.executable, "-c", f"raise SystemExit({code})"]
    return JobFields(kind="command", params={"argv": argv}, **kw)  # type: ignore[arg-type]


def drain(h: Harness) -> None:
    """Step until nothing more is dispatched (chained runs are dispatched next pass)."""
    for _ in range(10):
        if not h.step():
            return


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    return tmp_path


def test_a_job_runs_after_its_upstream_succeeds_and_names_the_run(
    svc_allowing_commands: Services, clock: FakeClock, tree: Path
) -> None:
    svc_allowing_commands.jobs.add("backup", copy_job(tree / "src", tree / "dst"))
    svc_allowing_commands.jobs.add(
        "verify", copy_job(tree / "dst", tree / "copy", after=["backup"])
    )
    upstream = svc_allowing_commands.runs.request("backup")
    drain(Harness(svc_allowing_commands, clock))
    (chained,) = svc_allowing_commands.runs.list(job="verify")
    assert (chained.state, chained.trigger) == ("succeeded", "chain")
    assert chained.chained_from == upstream
    assert (tree / "copy" / "a.txt").read_text() == "a"
    # It should show the chain both ways.
    assert svc_allowing_commands.jobs.show("verify").after == [ChainLink("backup", ChainOn.SUCCESS)]
    assert svc_allowing_commands.jobs.show("backup").chained_by == [
        ChainLink("verify", ChainOn.SUCCESS)
    ]


@pytest.mark.parametrize(
    ("on", "upstream_code", "runs"),
    [
        ("success", 0, 1),  # asked for success, got it
        ("success", 3, 0),  # asked for success, the upstream failed
        ("failure", 3, 1),  # the failure branch: a cleanup or a report
        ("failure", 0, 0),
        ("always", 0, 1),
        ("always", 3, 1),
    ],
)
def test_each_outcome_starts_only_the_links_that_asked_for_it(
    svc_allowing_commands: Services, clock: FakeClock, on: str, upstream_code: int, runs: int
) -> None:
    svc_allowing_commands.jobs.add("up", command(upstream_code, retries=0))
    svc_allowing_commands.jobs.add("down", command(0, after=[f"up:{on}"]))
    svc_allowing_commands.runs.request("up")
    drain(Harness(svc_allowing_commands, clock))
    assert len(svc_allowing_commands.runs.list(job="down")) == runs


def test_a_chain_waits_for_the_end_of_the_retry_chain(
    svc_allowing_commands: Services, clock: FakeClock
) -> None:
    svc_allowing_commands.jobs.add("up", command(3, retries=1, retry_delay="10s"))
    svc_allowing_commands.jobs.add("down", command(0, after=["up:failure"]))
    h = Harness(svc_allowing_commands, clock)
    svc_allowing_commands.runs.request("up")
    drain(h)
    # It should not run while a retry of the upstream is due.
    assert svc_allowing_commands.runs.list(job="down") == []
    clock.advance(30)
    drain(h)
    (retry, _first) = svc_allowing_commands.runs.list(job="up")
    (chained,) = svc_allowing_commands.runs.list(job="down")
    assert chained.chained_from == retry.id


def test_ending_a_run_twice_requests_the_chained_run_once(
    svc_allowing_commands: Services, clock: FakeClock
) -> None:
    """Two ends racing (a retried commit, the reaper against the runner): the
    conditional move lets one through, and the unique key holds even if both did."""
    svc_allowing_commands.jobs.add("up", command(0))
    svc_allowing_commands.jobs.add("down", command(0, after=["up"]))
    run_id = svc_allowing_commands.runs.request("up")
    h = Harness(svc_allowing_commands, clock)
    h.scheduler.tick()
    with transaction(svc_allowing_commands.sessions) as session:
        from synchub.store import chains as chain_store

        first = chain_store.request_after(session, run_id, ["success"], now=clock.now())
        again = chain_store.request_after(session, run_id, ["success"], now=clock.now())
    assert len(first) == 1 and again == []
    with transaction(svc_allowing_commands.sessions) as session:
        ended = end_run(
            session, run_id, RunState.SUCCEEDED, now=clock.now(), expected=[RunState.QUEUED]
        )
    assert ended.moved and ended.chained == ()
    assert len(svc_allowing_commands.runs.list(job="down")) == 1


def test_a_disabled_downstream_job_is_not_started(
    svc_allowing_commands: Services, clock: FakeClock
) -> None:
    svc_allowing_commands.jobs.add("up", command(0))
    svc_allowing_commands.jobs.add("down", command(0, after=["up"], enabled=False))
    svc_allowing_commands.runs.request("up")
    drain(Harness(svc_allowing_commands, clock))
    assert svc_allowing_commands.runs.list(job="down") == []


def test_a_chained_job_keeps_its_own_schedule(
    svc_allowing_commands: Services, clock: FakeClock
) -> None:
    view = svc_allowing_commands.jobs.add("down", command(0, cron="0 3 * * *", tz="UTC"))
    svc_allowing_commands.jobs.add("up", command(0))
    edited = svc_allowing_commands.jobs.edit("down", JobFields(after=["up:always"]))
    assert edited.next_fire_at == view.next_fire_at
    assert edited.after == [ChainLink("up", ChainOn.ALWAYS)]


@pytest.mark.parametrize(
    ("links", "message"),
    [
        (["a"], "a -> a"),  # itself
        (["c"], "a -> c -> b -> a"),  # through two others
    ],
)
def test_a_cycle_is_refused_naming_it_and_nothing_changes(
    svc_allowing_commands: Services, links: list[str], message: str
) -> None:
    svc_allowing_commands.jobs.add("a", command(0))
    svc_allowing_commands.jobs.add("b", command(0, after=["a"]))
    svc_allowing_commands.jobs.add("c", command(0, after=["b"]))
    before = svc_allowing_commands.jobs.show("a")
    with pytest.raises(InvalidInput, match=message) as caught:
        svc_allowing_commands.jobs.edit("a", JobFields(after=links))
    assert caught.value.field == "after"
    assert svc_allowing_commands.jobs.show("a") == before


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ("nope", "no job named 'nope'"),
        ("a:sometimes", "'sometimes' is not success, failure or always"),
        ("", "give JOB or JOB:success"),
        ("a b", "give JOB or JOB:success"),
    ],
)
def test_bad_links_are_refused_and_nothing_is_saved(
    svc_allowing_commands: Services, link: str, message: str
) -> None:
    svc_allowing_commands.jobs.add("a", command(0))
    with pytest.raises(InvalidInput, match=message):
        svc_allowing_commands.jobs.add("b", command(0, after=[link]))
    assert [j.name for j in svc_allowing_commands.jobs.list()] == ["a"]


def test_a_job_named_twice_is_refused(svc_allowing_commands: Services) -> None:
    svc_allowing_commands.jobs.add("a", command(0))
    with pytest.raises(InvalidInput, match="named twice"):
        svc_allowing_commands.jobs.add("b", command(0, after=["a:success", "a:failure"]))


def test_removing_an_upstream_job_is_refused_naming_who_runs_after_it(
    svc_allowing_commands: Services,
) -> None:
    svc_allowing_commands.jobs.add("up", command(0))
    svc_allowing_commands.jobs.add("down", command(0, after=["up"]))
    svc_allowing_commands.jobs.add("other", command(0, after=["up:failure"]))
    with pytest.raises(Conflict, match="down, other run after it"):
        svc_allowing_commands.jobs.remove("up")
    assert svc_allowing_commands.jobs.show("up").chained_by == [
        ChainLink("down", ChainOn.SUCCESS),
        ChainLink("other", ChainOn.FAILURE),
    ]
    # It should be removable once the links are gone (removing a downstream job
    # takes its links with it).
    svc_allowing_commands.jobs.edit("down", JobFields(after=[]))
    svc_allowing_commands.jobs.remove("other")
    svc_allowing_commands.jobs.remove("up")


def chained_jobs(svc: Services, prefix: str, count: int, tmp_path: Path) -> None:
    """`count` jobs named PREFIX000…, each after the one before it."""
    for i in range(count):
        after = [f"{prefix}{i - 1:03}:success"] if i else []
        dst = tmp_path / f"{prefix}{i}"
        svc.jobs.add(f"{prefix}{i:03}", copy_job(tmp_path / "src", dst, after=after))


def statements_of(svc: Services, listing: Callable[[], object]) -> int:
    count = 0

    def counted(*_: object) -> None:
        nonlocal count
        count += 1

    event.listen(svc.db, "before_cursor_execute", counted)
    try:
        listing()
    finally:
        event.remove(svc.db, "before_cursor_execute", counted)
    return count


def test_a_listing_asks_the_same_statements_for_3_chained_jobs_as_for_30(
    svc: Services, tree: Path
) -> None:
    chained_jobs(svc, "a", 3, tree)
    few = [statements_of(svc, f) for f in (svc.jobs.list, svc.jobs.page, svc.jobs.find)]
    (first, *_, last) = svc.jobs.list()
    assert first.chained_by == [ChainLink("a001", ChainOn.SUCCESS)]
    assert last.after == [ChainLink("a001", ChainOn.SUCCESS)]
    chained_jobs(svc, "b", 30, tree)
    many = [statements_of(svc, f) for f in (svc.jobs.list, svc.jobs.page, svc.jobs.find)]
    assert many == few, (few, many)
    views = {v.name: v for v in svc.jobs.list()}
    assert views["b029"].after == [ChainLink("b028", ChainOn.SUCCESS)]
    assert views["b015"].chained_by == [ChainLink("b016", ChainOn.SUCCESS)]
    # One job's view asks for its own links, as before.
    assert svc.jobs.show("b015").after == [ChainLink("b014", ChainOn.SUCCESS)]
