"""Runs followed live (services.run_feeds): one read per poll for all the followers
of a run, each change the same object for all of them, every log line once and in
order whenever a follower joins, no poll once the last follower has left, and one
check of a credential per period for all its streams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TypeVar

import anyio
import pytest

from synchub.core.clock import FakeClock
from synchub.core.errors import Unauthenticated
from synchub.core.runs import RunState, Trigger
from synchub.execution.outcomes import end_run
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_feeds import RECHECK_S, RunFeeds, Update
from synchub.services.run_views import LogLine
from synchub.store import claim as claim_store
from synchub.store import heartbeats
from synchub.store import jobs as job_store
from synchub.store import logs as log_store
from synchub.store import runs as run_store
from synchub.store.db import transaction
from tests.support.statements import statements

WORKER = "test:0:feed"
T = TypeVar("T")


def running(svc: Services, name: str) -> int:
    """A run of a new job `name`, running under WORKER (no process runs it)."""
    svc.jobs.add(name, JobFields(kind="scripted"))
    with transaction(svc.sessions) as session:
        job = job_store.get(session, name)
        assert job is not None
        run_id = run_store.create(session, job, trigger=Trigger.API, now=svc.clock.now())
        assert run_id is not None
        run_store.mark_queued(session, [run_id], svc.clock.now())
        claim_store.claim(session, run_id, worker=WORKER, now=svc.clock.now())
    return run_id


def moves(svc: Services, run_id: int, lines: list[str], step: int) -> None:
    """The run's next log lines and a new progress snapshot, as a flush writes them."""
    newest = max([line.seq for line in svc.runs.log_page(run_id, limit=10_000)], default=0)
    rows = [(newest + i, svc.clock.now(), "info", text) for i, text in enumerate(lines, 1)]
    with transaction(svc.sessions) as session:
        log_store.append(session, run_id, rows, [], dropped_lines=0, dropped_bytes=0)
        progress = {"bytes": step, "total_bytes": 100}
        heartbeats.heartbeat(session, run_id, worker=WORKER, now=svc.clock.now(), progress=progress)


def reader(svc: Services, run_id: int) -> Callable[[int], tuple[list[LogLine], int]]:
    def read(seq: int) -> tuple[list[LogLine], int]:
        lines = svc.runs.log_page(run_id, after_seq=seq)
        return lines, lines[-1].seq if lines else seq

    return read


def run_async(main: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(main)


async def next_update(follower: AsyncIterator[Update | None]) -> Update:
    """The follower's next update (the test drives the polls: no wait times out)."""
    update = await anext(follower)
    assert update is not None
    return update


def test_the_followers_of_a_run_share_one_read_per_poll(svc: Services) -> None:
    run_id = running(svc, "photos")
    moves(svc, run_id, ["a", "b"], 1)

    async def main() -> None:
        # The test polls by hand: the feeds' own poller polls once, for the first tick.
        feeds = RunFeeds(svc, poll_s=3600)
        followers = [feeds.follow(run_id, 0, reader(svc, run_id), wait_s=3600) for _ in range(10)]
        first = [await next_update(f) for f in followers]
        # Each follower read the lines before its first tick itself (a late joiner).
        assert all([line.message for line in u.lines] == ["a", "b"] for u in first)
        poller = feeds.poller()
        for step in range(2, 5):
            moves(svc, run_id, [f"line {step}"], step)
            with statements(svc.db) as sent:
                await poller.poll()
                updates = [await next_update(f) for f in followers]
            # It should read the run, its change report's counts and its new line once
            # for all ten.
            assert len(sent) == 3, sent
            assert all(u.tick is updates[0].tick and u.shared for u in updates)
            assert [line.message for line in updates[0].lines] == [f"line {step}"]
            view = updates[0].tick.view
            assert view is not None and view.progress == {"bytes": step, "total_bytes": 100}
        # A poll that finds nothing changed reads one statement and publishes nothing.
        with statements(svc.db) as sent:
            await poller.poll()
        assert len(sent) == 1 and all(f.tick is updates[0].tick for f in poller.feeds.values())
        for follower in followers:
            await follower.aclose()

    run_async(main)


def test_a_late_or_slow_follower_sees_every_line_once_in_order_to_the_end(
    svc: Services,
) -> None:
    run_id = running(svc, "photos")
    moves(svc, run_id, ["1", "2"], 1)

    async def main() -> None:
        feeds = RunFeeds(svc, poll_s=3600)
        early = feeds.follow(run_id, 1, reader(svc, run_id), wait_s=3600)  # resumes after 1
        seen_early = list((await next_update(early)).lines)
        poller = feeds.poller()
        moves(svc, run_id, ["3"], 2)
        await poller.poll()
        seen_early += (await next_update(early)).lines
        moves(svc, run_id, ["4"], 3)
        await poller.poll()
        moves(svc, run_id, ["5"], 4)  # the early one takes neither tick as it comes
        await poller.poll()
        late = feeds.follow(run_id, 0, reader(svc, run_id), wait_s=3600)
        seen_late: list[LogLine] = []
        ends = {}
        with transaction(svc.sessions) as session:
            end_run(session, run_id, RunState.SUCCEEDED, now=svc.clock.now())
        await poller.poll()
        for name, follower, seen in (("early", early, seen_early), ("late", late, seen_late)):
            while name not in ends:
                update = await next_update(follower)
                seen += update.lines
                if update.over:
                    ends[name] = update
        assert [line.message for line in seen_early] == ["2", "3", "4", "5"]
        assert [line.message for line in seen_late] == ["1", "2", "3", "4", "5"]

    run_async(main)


def test_the_poll_stops_when_the_last_follower_leaves(svc: Services) -> None:
    run_id = running(svc, "photos")

    async def main() -> None:
        feeds = RunFeeds(svc, poll_s=3600)
        followers = [feeds.follow(run_id, 0, reader(svc, run_id), wait_s=3600) for _ in range(3)]
        for follower in followers:
            await next_update(follower)
        poller = feeds.poller()
        task = poller.task
        assert task is not None and not task.done()
        for follower in followers[:2]:
            await follower.aclose()
        assert list(poller.feeds) == [run_id] and not task.done()
        await followers[2].aclose()
        await task  # it should end now, not after its hour's sleep
        assert poller.task is None and poller.feeds == {}
        with statements(svc.db) as sent:
            assert await poller.poll() is False
        assert sent == []

    run_async(main)


def test_streams_of_one_token_share_its_check_and_all_end_within_the_period(
    svc: Services, clock: FakeClock
) -> None:
    secret, _ = svc.tokens.create("dashboard", "viewer")
    feeds = RunFeeds(svc)
    checks = [feeds.recheck(secret, partial(svc.tokens.authenticate, secret)) for _ in range(10)]

    async def all_checked() -> None:
        async with anyio.create_task_group() as streams:  # all due at once
            for check in checks:
                streams.start_soon(check)

    def reads() -> int:
        with statements(svc.db) as sent:
            run_async(all_checked)
        return sum(s.startswith("SELECT") for s in sent)

    assert reads() == 0  # checked when the stream opened: not due yet
    clock.advance(RECHECK_S)
    assert reads() == 1  # one check for the ten
    svc.tokens.revoke("dashboard")
    clock.advance(RECHECK_S - 1)
    assert reads() == 0  # still trusted: the last check is younger than the period
    clock.advance(1)
    for check in checks:
        with pytest.raises(Unauthenticated):
            run_async(check)
