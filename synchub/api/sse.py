"""A run's live progress and log as Server-Sent Events.

The stream, for one run:

- `state`: the run's view, first and again whenever its state changes (the last
  one after the run's last log line);
- `progress`: {id, state, progress, heartbeat_at} about once a second while it runs;
- `log`: one log line {seq, at, level, message}; its SSE `id` is the line's seq;
- `end`: the final view once the run has ended (or {"id", "state": null} when the
  run was removed); the stream closes after it.

The stream ends, with a `denied` event {"status": 401, "detail"}, within a poll
of its token being revoked or expiring: the token is checked again at every poll.

A client that reconnects with `Last-Event-ID: <seq>` (browsers do this themselves)
gets the log lines after that seq, so it neither misses nor repeats any.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import anyio
from anyio.to_thread import run_sync

from synchub.core.errors import NotFound, Unauthenticated
from synchub.services import Services

#: How often the database is asked for new lines and state while a stream is open.
POLL_S = 0.5
PROGRESS_EVERY_S = 1.0
#: A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_S = 15.0
LINES_PER_READ = 1000


def event(name: str, data: Any, event_id: int | None = None) -> str:
    """One SSE event; `data` as one line of JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def run_events(
    svc: Services,
    run_id: int,
    *,
    still_allowed: Callable[[], object],
    after_seq: int = 0,
    poll_s: float = POLL_S,
) -> AsyncIterator[str]:
    """The events of run `run_id`, from log line `after_seq` on, until it ends or
    `still_allowed` raises Unauthenticated (the caller's token is no longer live)."""
    seq = after_seq
    state: str | None = None
    last_progress = last_sent = 0.0
    while True:
        try:
            await run_sync(still_allowed)
        except Unauthenticated as exc:
            yield event("denied", {"status": 401, "detail": exc.message}, seq or None)
            return
        try:
            # The view first, then the lines: once a view shows the run ended, every
            # line it wrote is already stored, so the last read below sees them all.
            view = await run_sync(svc.runs.show, run_id)
            read = partial(svc.runs.log_page, run_id, after_seq=seq, limit=LINES_PER_READ)
            lines = await run_sync(read)
        except NotFound:
            yield event("end", {"id": run_id, "state": None}, seq)
            return
        ended = view.ended
        if view.state != state and not ended:
            state = view.state.value
            yield event("state", view.as_dict())
        for line in lines:
            seq = line.seq
            yield event("log", line.as_dict(), seq)
        if len(lines) == LINES_PER_READ:
            continue  # more are waiting: read on before sleeping
        if ended:
            if view.state != state:
                yield event("state", view.as_dict())
            yield event("end", view.as_dict(), seq)
            return
        now = time.monotonic()
        has_snapshot = view.progress is not None  # none before the first flush
        if state == "running" and has_snapshot and now - last_progress >= PROGRESS_EVERY_S:
            last_progress = last_sent = now
            yield event(
                "progress",
                {
                    "id": run_id,
                    "state": state,
                    "progress": view.progress,
                    "heartbeat_at": view.heartbeat_at,
                },
            )
        elif now - last_sent >= KEEPALIVE_S:
            last_sent = now
            yield ": keepalive\n\n"
        if lines:
            last_sent = now
        await anyio.sleep(poll_s)
