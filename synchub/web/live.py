"""What the console shows live: a run's progress and log, and the dashboard's running
runs, as Server-Sent Events whose data are HTML fragments for htmx's SSE extension
to swap in; and the system line (leader, workers, queues)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.to_thread import run_sync
from fastapi import Request
from fastapi.responses import StreamingResponse

from synchub.core.errors import NotFound, SynchubError
from synchub.services import Services
from synchub.web import console
from synchub.web.console import SignInNeeded, Templates

#: How often a stream looks at the database.
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


def _still_signed_in(request: Request) -> bool:
    try:
        console.visit(request)
    except SignInNeeded:
        return False
    return True


async def ticks(
    request: Request, look: Callable[[], list[tuple[str, str]] | None]
) -> AsyncIterator[str]:
    """The events `look` finds at each poll, while the visitor stays signed in and
    connected, until `look` says the stream is over (None)."""
    sent: dict[str, str] = {}
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        if not await run_sync(_still_signed_in, request):
            yield event("end", "<p>Your session has ended: sign in again.</p>")
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


def run_events(
    request: Request,
    templates: Templates,
    run_id: int,
    after_seq: int,
    log: LogFilter = LogFilter(),
) -> AsyncIterator[str]:
    """A run's `progress` panel when it changes, its new `log` lines (those `log`
    lets through), and `end` once it has ended (after its last lines)."""
    svc = console.services(request)
    seq = after_seq

    def look() -> list[tuple[str, str]] | None:
        nonlocal seq
        try:
            run = svc.runs.show(run_id)
            lines, seen = svc.runs.log_search(
                run_id, after_seq=seq, limit=LOG_LINES, level=log.level, search=log.search
            )
        except NotFound:
            return [("end", "<p>This run was removed.</p>")]
        now = svc.clock.now()
        found = [("progress", templates.render("_progress.html", run=run, now=now))]
        seq = seen  # past the lines the filter left out too
        if lines:
            found.append(("log", templates.render("_log_lines.html", lines=lines)))
        if run.ended and len(lines) < LOG_LINES:
            # The page's header too: the ended run's badge, Retry instead of Cancel.
            ended = templates.render(
                "_run_ended.html",
                run=run,
                now=now,
                visit=request.state.visit,
                retried_by=svc.runs.retried_by(run_id),
            )
            found.append(("end", ended))
        return found

    return ticks(request, look)


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
