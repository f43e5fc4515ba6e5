"""What the reaper watches: running runs' heartbeats (renewed by their runners), and
queued runs no executor took."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from synchub.core.runs import RunState
from synchub.store.tables import RunRow


def heartbeat(
    session: Session,
    run_id: int,
    *,
    worker: str,
    now: datetime,
    progress: dict[str, Any] | None,
) -> bool | None:
    """Renew a running run's heartbeat (and progress). Returns whether a cancel was
    requested, or None when the run is no longer running under this worker."""
    values: dict[str, Any] = {"heartbeat_at": now}
    if progress is not None:
        values["progress"] = progress
    result = session.execute(
        update(RunRow)
        .where(
            RunRow.id == run_id,
            RunRow.state == RunState.RUNNING.value,
            RunRow.worker == worker,
        )
        .values(**values)
        .returning(RunRow.cancel_requested)
    )
    row = result.first()
    return None if row is None else bool(row[0])


def beats(session: Session) -> list[tuple[int, datetime | None]]:
    """Each running run with its last heartbeat, stamped by its worker's clock."""
    rows = session.execute(
        select(RunRow.id, RunRow.heartbeat_at).where(RunRow.state == RunState.RUNNING.value)
    )
    return [(run_id, beat) for run_id, beat in rows]


def lock_if_beat_is(session: Session, run_id: int, beat: datetime | None) -> bool:
    """Lock a running run if its heartbeat is still `beat`: a beat that lands after
    this waits for the transaction, and finds the run ended."""
    stamp = RunRow.heartbeat_at.is_(None) if beat is None else RunRow.heartbeat_at == beat
    found = session.scalar(
        select(RunRow.id)
        .where(RunRow.id == run_id, RunRow.state == RunState.RUNNING.value, stamp)
        .with_for_update()
    )
    return found is not None


def stale_queued(session: Session, now: datetime, after_s: float) -> list[int]:
    """Queued runs no executor started within `after_s`: their hand-over was lost."""
    cutoff = now - timedelta(seconds=after_s)
    return list(
        session.scalars(
            select(RunRow.id).where(
                RunRow.state == RunState.QUEUED.value, RunRow.queued_at < cutoff
            )
        )
    )
