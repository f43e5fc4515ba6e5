"""Fire times of jobs with run windows: a fire while the window is shut waits for it
to open, one per opening (core.windows, store.windows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from synchub.core.runs import RunState, SkipReason, Trigger
from synchub.core.windows import opened_at
from synchub.store import runs as run_store
from synchub.store import windows as window_store
from synchub.store.tables import JobRow


def gate(
    session: Session, job: JobRow, fires: list[tuple[datetime, datetime | None]], now: datetime
) -> list[tuple[datetime, datetime | None]]:
    """The job's fire times to run, each with when its run may start (None: now), by
    its windows. A fire time while every window is shut waits for the next opening.
    One opening starts one run for the fire times that waited for it: a fire time
    while a run already waits for that opening (or, at the opening, waited for it) is
    recorded as skipped, reason `window`, as the waiting run does the work."""
    if not job.windows or job.windows_tz is None:
        return fires
    out: list[tuple[datetime, datetime | None]] = []
    waiting: set[datetime] = set()
    for at, wait in fires:
        due = wait or now
        opens = window_store.not_before(job, Trigger.SCHEDULE.value, due)
        if opens <= due:
            opens = opened_at(job.windows, job.windows_tz, due) or due
        if opens in waiting or window_store.waits_for(session, job.id, opens):
            run_store.create(
                session, job, trigger=Trigger.SCHEDULE, now=now, scheduled_for=at,
                state=RunState.SKIPPED, reason=SkipReason.WINDOW.value,
            )  # fmt: skip
            continue
        if opens > due:
            waiting.add(opens)
            out.append((at, opens))
        else:
            out.append((at, wait))
    return out
