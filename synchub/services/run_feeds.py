"""Runs followed live, polled once for all their followers: the console's run pages and
the API's run event streams read a run's state and new log lines here, not each on
its own.

The first follower of a run opens its feed and starts the poller if none runs; the
last one leaving closes the feed, and the poller stops once no feed is open. A poll
is one thread hop that reads every open feed's run at once: one statement for the
runs and their newest log line's seq, then only what changed (the new lines of the
runs that have some, the change report's counts of the runs whose row changed). A
poll that finds a run unchanged publishes nothing for it; an ended run is not read
again. Each change is one `Tick`, the same object for every follower of the run, so
a panel rendered from it is rendered once (`Tick.once`).

A follower reads for itself only the lines it has not seen that came before its
first tick (a resume, or a page drawn a while ago), or that it missed by being slow:
it sees every line once, in order, whatever tick it joins at.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncGenerator, Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from weakref import WeakKeyDictionary

import anyio
from anyio.to_thread import run_sync

from synchub.services.run_views import LogLine, RunView, log_view, run_view
from synchub.store import logs as log_store
from synchub.store import runs as run_store
from synchub.store.db import reading

if TYPE_CHECKING:
    from synchub.core.clock import Clock
    from synchub.services.context import Services

#: How often the open feeds' runs are read.
POLL_S = 1.0
#: Log lines a poll reads of a run at most; a run with more is read again at once.
LINES_PER_READ = 1000
#: How often a follower's credentials (a token, a console session) are checked again.
RECHECK_S = 5.0

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(eq=False)
class Tick:
    """A run as one poll found it."""

    view: RunView | None  #: None: the run was removed
    after: int  #: the log seq the poll read after
    lines: tuple[LogLine, ...]  #: the lines after `after`, in order
    full: bool  #: LINES_PER_READ lines were read: more are waiting
    now: datetime  #: the clock's time at the poll
    _made: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    @property
    def seq(self) -> int:
        return self.lines[-1].seq if self.lines else self.after

    @property
    def over(self) -> bool:
        """The run was removed, or it ended and these are its last lines."""
        return self.view is None or (self.view.ended and not self.full)

    def once(self, key: Hashable, make: Callable[[], T]) -> T:
        """What `make()` returns, made by the first follower that asks for `key`."""
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Update:
    """What a follower is to send: the run as `tick` has it, and the log lines it has
    not sent yet (`shared`: exactly the tick's, the same for every follower)."""

    tick: Tick
    lines: Sequence[LogLine]
    over: bool
    shared: bool


@dataclass(eq=False)
class _Feed:
    run_id: int
    followers: int = 0
    tick: Tick | None = None
    changed: anyio.Event = field(default_factory=anyio.Event)

    def publish(self, tick: Tick) -> None:
        self.tick = tick
        self.changed.set()
        self.changed = anyio.Event()

    @property
    def settled(self) -> bool:
        return self.tick is not None and self.tick.over


class _Poller:
    """The feeds of one event loop, and the task polling them while any is open."""

    def __init__(self, svc: Services, poll_s: float) -> None:
        self.svc, self.poll_s = svc, poll_s
        self.feeds: dict[int, _Feed] = {}
        self.task: asyncio.Task[None] | None = None
        self.wake = anyio.Event()

    def join(self, run_id: int) -> _Feed:
        feed = self.feeds.get(run_id)
        if feed is None:
            feed = self.feeds[run_id] = _Feed(run_id)
            self.wake.set()  # its first tick now, not at the next poll
        feed.followers += 1
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        return feed

    def leave(self, feed: _Feed) -> None:
        feed.followers -= 1
        if feed.followers == 0 and self.feeds.get(feed.run_id) is feed:
            del self.feeds[feed.run_id]
            if not self.feeds:
                self.wake.set()  # the poller stops now rather than after its sleep

    async def _run(self) -> None:
        try:
            while self.feeds:
                self.wake = anyio.Event()
                try:
                    if await self.poll():
                        continue  # a run has more lines waiting
                except Exception:  # the database away: the streams wait, and say nothing new
                    log.exception("Reading the runs followed live failed; trying again")
                with anyio.move_on_after(self.poll_s):
                    await self.wake.wait()
        finally:
            self.task = None

    async def poll(self) -> bool:
        """Read the open feeds' runs once and publish what changed; whether a run has
        more lines waiting."""
        feeds = [feed for feed in self.feeds.values() if not feed.settled]
        if not feeds:
            return False
        asks = [(feed.run_id, feed.tick) for feed in feeds]
        ticks = await run_sync(read_changes, self.svc, asks)
        for feed, tick in zip(feeds, ticks, strict=True):
            if tick is not None:
                feed.publish(tick)
        return any(tick is not None and tick.full for tick in ticks)


def read_changes(svc: Services, asks: Sequence[tuple[int, Tick | None]]) -> list[Tick | None]:
    """For each (run id, its last tick), a tick when the run changed since (a first
    tick, with no lines, when there was none), None otherwise."""
    ids, last = [run_id for run_id, _ in asks], [tick for _, tick in asks]
    now = svc.clock.now()
    with reading(svc.sessions) as session:
        found = {run.id: (run, seq) for run, seq in log_store.runs_with_last_seq(session, ids)}
        retried = run_store.retried(session, [run for run, _ in found.values()])
        views: dict[int, RunView] = {}
        for run_id, before in zip(ids, last, strict=True):
            if run_id in found:
                view = run_view(found[run_id][0], run_id in retried)
                seen = before.view if before is not None else None
                if seen is None or _counted(view, seen) != seen:
                    views[run_id] = view
        counts = log_store.file_counts_of(session, list(views)) if views else {}
        ticks: list[Tick | None] = []
        for run_id, before in zip(ids, last, strict=True):
            if run_id not in found:
                ticks.append(Tick(None, before.seq if before else 0, (), False, now))
                continue
            newest = found[run_id][1]
            after = before.seq if before is not None else newest
            lines: tuple[LogLine, ...] = ()
            if newest > after:
                rows = log_store.lines(session, run_id, after_seq=after, limit=LINES_PER_READ)
                lines = tuple(log_view(row) for row in rows)
            if run_id in views:
                view = replace(views[run_id], files_summary=counts[run_id])
            elif lines and before is not None and before.view is not None:
                view = before.view
            else:
                ticks.append(None)
                continue
            ticks.append(Tick(view, after, lines, len(lines) == LINES_PER_READ, now))
    return ticks


def _counted(view: RunView, before: RunView) -> RunView:
    """`view` with the change report's counts `before` had: what to compare them by."""
    return replace(view, files_summary=before.files_summary)


class RunFeeds:
    """The live feeds of runs in this process (one poller per event loop)."""

    def __init__(self, svc: Services, poll_s: float = POLL_S) -> None:
        self.svc, self.poll_s = svc, poll_s
        self._pollers: WeakKeyDictionary[asyncio.AbstractEventLoop, _Poller] = WeakKeyDictionary()
        self._checked: dict[Hashable, Checked] = {}
        self._checking: dict[Hashable, anyio.Event] = {}

    def poller(self) -> _Poller:
        """This event loop's poller (made at its first use)."""
        loop = asyncio.get_running_loop()
        poller = self._pollers.get(loop)
        if poller is None:
            poller = self._pollers[loop] = _Poller(self.svc, self.poll_s)
        return poller

    def recheck(self, key: str, check: Callable[[], object]) -> Recheck:
        """A follower's `Recheck` of the credential `key` (a token, a session cookie:
        only its digest is kept), sharing its checks with the other followers."""
        digest = hashlib.sha256(key.encode()).digest()
        return Recheck(self.svc.clock, check, key=digest, shared=self._checked, busy=self._checking)

    async def follow(
        self,
        run_id: int,
        after_seq: int,
        read: Callable[[int], tuple[list[LogLine], int]],
        keep: Callable[[LogLine], bool] = lambda _line: True,
        wait_s: float = POLL_S,
    ) -> AsyncGenerator[Update | None, None]:
        """Run `run_id`'s updates for a follower that has seen its log up to
        `after_seq`, until one is `over`; None after `wait_s` seconds without one
        (for the follower's keep-alives and checks).

        `read(seq)` gives the lines after `seq` the follower wants and the seq to
        continue after (it is called in a worker thread, for the lines before the
        feed's); `keep` says which of a tick's lines it wants."""
        poller = self.poller()
        feed = poller.join(run_id)
        try:
            seq, taken = after_seq, None
            while True:
                if feed.tick is taken:
                    with anyio.move_on_after(wait_s):
                        await feed.changed.wait()
                    if feed.tick is taken:
                        yield None
                        continue
                tick = taken = feed.tick
                assert tick is not None
                behind: list[LogLine] = []
                while tick.view is not None and seq < tick.after:
                    if behind:  # a long way behind: what was read so far goes first
                        yield Update(tick, behind, over=False, shared=False)
                    behind, next_seq = await run_sync(read, seq)
                    if next_seq <= seq:
                        break  # nothing stored there any more (pruned, or gaps)
                    seq = next_seq
                fresh = [line for line in tick.lines if line.seq > seq and keep(line)]
                shared = not behind and len(fresh) == len(tick.lines)
                seq = max(seq, tick.seq)
                yield Update(tick, behind + fresh, over=tick.over, shared=shared)
                if tick.over:
                    return
        finally:
            poller.leave(feed)


class Recheck:
    """A follower's credentials (a token, a console session), checked again once
    RECHECK_S of the clock have passed since the last check: a revoked token's stream
    ends within that, without a read of the token at every poll. The followers of
    one credential (`key`) share its checks (`shared`: their last results): a check
    younger than RECHECK_S is taken as it is."""

    def __init__(
        self,
        clock: Clock,
        check: Callable[[], object],
        every_s: float = RECHECK_S,
        *,
        key: Hashable = None,
        shared: dict[Hashable, Checked] | None = None,
        busy: dict[Hashable, anyio.Event] | None = None,
    ) -> None:
        self.clock, self.check, self.every = clock, check, timedelta(seconds=every_s)
        self.key, self.shared = key, shared if shared is not None else {}
        #: the keys being checked now, set when done: one check at a time per key
        self.busy = busy if busy is not None else {}
        self.at = clock.now()

    async def __call__(self) -> None:
        """Raises what `check` raises, when it is due."""
        now = self.clock.now()
        if now - self.at < self.every:
            return
        known = self.shared.get(self.key)
        if known is None or now - known.at >= self.every:
            known = await self._checked(now)
        if known is None:
            return  # the follower checking it went away: checked at the next call
        self.at = known.at
        if known.error is not None:
            raise known.error

    async def _checked(self, now: datetime) -> Checked | None:
        """A check made now, or the one another follower of the key is making."""
        busy = self.busy.get(self.key)
        if busy is not None:
            await busy.wait()
            return self.shared.get(self.key)
        busy = self.busy[self.key] = anyio.Event()
        try:
            return await run_sync(self._check, now)
        finally:
            del self.busy[self.key]
            busy.set()

    def _check(self, now: datetime) -> Checked:
        try:
            self.check()
            checked = Checked(now, None)
        except Exception as exc:  # what `check` says of the credential, told to each follower
            checked = Checked(now, exc)
        for key in [k for k, c in self.shared.items() if now - c.at >= self.every]:
            self.shared.pop(key, None)  # no credential kept past its use
        self.shared[self.key] = checked
        return checked


@dataclass(frozen=True)
class Checked:
    at: datetime
    error: Exception | None
