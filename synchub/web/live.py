"""What the console shows live: a run's progress and log, and the dashboard's running
runs, as Server-Sent Events whose data are HTML fragments for htmx's SSE extension
to swap in; and the system line (leader, workers, queues)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from anyio.to_thread import run_sync
from fastapi import Request
from fastapi.responses import StreamingResponse

from synchub.core.errors import NotFound, SynchubError
from synchub.services import Services
from synchub.services.run_feeds import Tick
from synchub.services.run_views import LogLine
from synchub.services.runs import log_filter
from synchub.web import console, session
from synchub.web.console import SignInNeeded, Templates

#: The events that end a stream early.
SIGNED_OUT = "event: end\ndata: <p>Your session has ended: sign in again.</p>\n\n"
REMOVED = "event: end\ndata: <p>This run was removed.</p>\n\n"

#: How often a panel's stream (not a run's: services.run_feeds) looks at the database.
POLL_S = 1.0
#: A comment this often keeps proxies from closing a quiet stream.
KEEPALIVE_S = 15.0
#: Log lines a run page shows at first, and sends per event at most.
LOG_LINES = 500


def stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


def event(name: str, html: str) -> str:
    """One SSE event carrying an HTML fragment (one `data:` line per line of it)."""
    data = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {name}\n{data}\n"


async def ticks(
    request: Request, look: Callable[[], list[tuple[str, str]] | None]
) -> AsyncIterator[str]:
    """The events `look` finds at each poll, while the visitor stays signed in and
    connected, until `look` says the stream is over (None)."""
    sent: dict[str, str] = {}
    recheck = console.services(request).run_feeds.recheck(
        _cookie(request), partial(console.visit, request)
    )
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        try:
            await recheck()
        except SignInNeeded:
            yield SIGNED_OUT
            return
        found = await run_sync(look)
        if found is None:
            return
        for name, html in found:
            if name == "log" or sent.get(name) != html:  # unchanged panels stay unsent
                sent[name] = html
                quiet_since = time.monotonic()
                yield event(name, html)
                if name == "end":
                    return
        if time.monotonic() - quiet_since >= KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        await anyio.sleep(POLL_S)


@dataclass(frozen=True)
class LogFilter:
    """Which log lines a run page follows (RunService.log_search): all by default."""

    level: str | None = None  #: this level and more severe
    search: str | None = None  #: holding this text, in any case


async def run_events(
    request: Request,
    templates: Templates,
    run_id: int,
    after_seq: int,
    log: LogFilter = LogFilter(),
) -> AsyncIterator[str]:
    """A run's `progress` panel when it changes, its new `log` lines (those `log`
    lets through), and `end` once it has ended (after its last lines). The run is
    read by the process's one poll of it (services.run_feeds), and each change's
    panel rendered once for all the pages following it."""
    svc = console.services(request)

    def read(seq: int) -> tuple[list[LogLine], int]:
        return svc.runs.log_search(
            run_id, after_seq=seq, limit=LOG_LINES, level=log.level, search=log.search
        )

    recheck = svc.run_feeds.recheck(_cookie(request), partial(console.visit, request))
    keep = log_filter(log.level, log.search)
    shown, quiet_since = "", time.monotonic()
    try:
        follow = svc.run_feeds.follow(run_id, after_seq, read, keep)
        async with aclosing(follow) as updates:
            async for update in updates:
                try:
                    await recheck()
                except SignInNeeded:
                    yield SIGNED_OUT
                    return
                if update is None:
                    if time.monotonic() - quiet_since >= KEEPALIVE_S:
                        quiet_since = time.monotonic()
                        yield ": keepalive\n\n"
                    continue
                quiet_since = time.monotonic()
                tick = update.tick
                if tick.view is None:
                    yield REMOVED
                    return
                progress = tick.once(("progress", id(templates)), partial(_panel, templates, tick))
                if progress != shown:
                    shown = progress
                    yield progress
                for lines in _chunks(update.lines):
                    if update.shared:
                        yield tick.once(("log", id(templates)), partial(_log, templates, lines))
                    else:
                        yield _log(templates, lines)
                if update.over:
                    yield await run_sync(_ended, request, templates, tick)
                    return
    except NotFound:
        yield REMOVED


def _cookie(request: Request) -> str:
    return request.cookies.get(session.COOKIE) or ""


def _panel(templates: Templates, tick: Tick) -> str:
    return event("progress", templates.render("_progress.html", run=tick.view, now=tick.now))


def _log(templates: Templates, lines: Sequence[LogLine]) -> str:
    return event("log", templates.render("_log_lines.html", lines=lines))


def _chunks(lines: Sequence[LogLine]) -> list[Sequence[LogLine]]:
    return [lines[i : i + LOG_LINES] for i in range(0, len(lines), LOG_LINES)]


def _ended(request: Request, templates: Templates, tick: Tick) -> str:
    """The page's header too: the ended run's badge, Retry instead of Cancel."""
    assert tick.view is not None
    svc = console.services(request)
    html = templates.render(
        "_run_ended.html",
        run=tick.view,
        now=tick.now,
        visit=request.state.visit,
        retried_by=svc.runs.retried_by(tick.view.id),
    )
    return event("end", html)


def running_events(request: Request, templates: Templates) -> AsyncIterator[str]:
    """The dashboard's "Running now" panel, whenever it changes."""
    svc = console.services(request)

    def look() -> list[tuple[str, str]]:
        running = svc.overview.running()
        html = templates.render("_running.html", running=running, now=svc.clock.now())
        return [("running", html)]

    return ticks(request, look)


def system(request: Request, svc: Services) -> dict[str, Any]:
    """The scheduler's leader, the workers (the local pool or Celery's) and the runs
    waiting per queue."""
    node = request.app.state.node
    try:
        workers = node.describe_workers() if node is not None else []
    except SynchubError:
        workers = []
    return {
        "scheduler": svc.runs.scheduler_status(),
        "executor": svc.settings.executor,
        "workers": workers,
        "queues": svc.runs.waiting_by_queue(),
    }
