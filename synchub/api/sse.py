"""A run's live progress and log as Server-Sent Events.

The stream, for one run:

- `state`: the run's view, first and again whenever its state changes (the last
  one after the run's last log line);
- `progress`: {id, state, progress, heartbeat_at} about once a second while it runs;
- `log`: one log line {seq, at, level, message}; its SSE `id` is the line's seq;
- `end`: the final view once the run has ended (or {"id", "state": null} when the
  run was removed); the stream closes after it.

The stream ends, with a `denied` event {"status": 401, "detail"}, within a few
seconds of its token being revoked or expiring: the token is checked again every
RECHECK_S seconds.

A client that reconnects with `Last-Event-ID: <seq>` (browsers do this themselves)
gets the log lines after that seq, so it neither misses nor repeats any.

The run is read by the process's one poll of it (services.run_feeds), shared with
every other stream of the same run.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from functools import partial
from typing import Any

from synchub.core.errors import NotFound, Unauthenticated
from synchub.services import Services
from synchub.services.run_feeds import RECHECK_S
from synchub.services.run_views import LogLine, RunView

PROGRESS_EVERY_S = 1.0
#: A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_S = 15.0
LINES_PER_READ = 1000

__all__ = ["KEEPALIVE_S", "RECHECK_S", "event", "run_events"]


def event(name: str, data: Any, event_id: int | None = None) -> str:
    """One SSE event; `data` as one line of JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def run_events(
    svc: Services,
    run_id: int,
    *,
    still_allowed: Callable[[], object],
    credential: str = "",
    after_seq: int = 0,
) -> AsyncIterator[str]:
    """The events of run `run_id`, from log line `after_seq` on, until it ends or
    `still_allowed` raises Unauthenticated (the caller's token, `credential`, is no
    longer live)."""

    def read(seq: int) -> tuple[list[LogLine], int]:
        lines = svc.runs.log_page(run_id, after_seq=seq, limit=LINES_PER_READ)
        return lines, lines[-1].seq if lines else seq

    recheck = svc.run_feeds.recheck(credential, still_allowed)
    seq, state, tick = after_seq, None, None
    last_progress = last_sent = 0.0
    try:
        follow = svc.run_feeds.follow(run_id, after_seq, read, wait_s=PROGRESS_EVERY_S / 2)
        async with aclosing(follow) as updates:
            async for update in updates:
                try:
                    await recheck()
                except Unauthenticated as exc:
                    yield event("denied", {"status": 401, "detail": exc.message}, seq or None)
                    return
                if update is not None:
                    tick = update.tick
                    if tick.view is None:
                        yield event("end", {"id": run_id, "state": None}, seq)
                        return
                    view = tick.view
                    if view.state.value != state and not view.ended:
                        state = view.state.value
                        yield tick.once("api-state", partial(_state, view))
                    for line in update.lines:
                        seq = line.seq
                        yield event("log", line.as_dict(), seq)
                        last_sent = time.monotonic()
                    if update.over:
                        if view.state.value != state:
                            yield event("state", view.as_dict())
                        yield event("end", view.as_dict(), seq)
                        return
                now = time.monotonic()
                moving = tick is not None and state == "running" and _has_progress(tick.view)
                if moving and tick is not None and now - last_progress >= PROGRESS_EVERY_S:
                    last_progress = last_sent = now
                    yield tick.once("api-progress", partial(_progress, tick.view))
                elif now - last_sent >= KEEPALIVE_S:
                    last_sent = now
                    yield ": keepalive\n\n"
    except NotFound:
        yield event("end", {"id": run_id, "state": None}, seq)


def _has_progress(view: RunView | None) -> bool:
    return view is not None and view.progress is not None  # none before the first flush


def _state(view: RunView) -> str:
    return event("state", view.as_dict())


def _progress(view: RunView | None) -> str:
    assert view is not None
    data = {
        "id": view.id,
        "state": view.state.value,
        "progress": view.progress,
        "heartbeat_at": view.heartbeat_at,
    }
    return event("progress", data)
