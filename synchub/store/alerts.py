"""Alerts, the outbox of their messages, and the ended runs the alert pass looks at."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from synchub.core.alerts import AlertEvent
from synchub.core.runs import RETRYABLE, TERMINAL, RunState
from synchub.store.tables import AlertMessageRow, AlertRow, JobRow, RunRow

#: The states that end a chain and count for alerts; a cancel or a skip tells nothing.
CHAIN_ENDS = (RunState.SUCCEEDED.value, *(s.value for s in RETRYABLE))
#: The messages that tell a job's state; the last of them is what the alert last said.
TOLD_STATES = (AlertEvent.FAILURE.value, AlertEvent.RECOVERY.value)


def get(session: Session, name: str) -> AlertRow | None:
    return session.scalars(select(AlertRow).where(AlertRow.name == name)).first()


def all_alerts(session: Session) -> list[AlertRow]:
    return list(session.scalars(select(AlertRow).order_by(AlertRow.name)))


def unseen_ended(session: Session, limit: int) -> list[RunRow]:
    """Ended runs the alert pass has not looked at, oldest first, locked on PostgreSQL
    (skipped when another pass holds them)."""
    query = (
        select(RunRow)
        .where(RunRow.alert_examined.is_(False), RunRow.state.in_([s.value for s in TERMINAL]))
        .order_by(RunRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def mark_examined(session: Session, run_ids: list[int]) -> None:
    if run_ids:
        session.execute(update(RunRow).where(RunRow.id.in_(run_ids)).values(alert_examined=True))


def is_retried(session: Session, run_id: int) -> bool:
    retry = aliased(RunRow)
    return bool(session.scalar(select(exists().where(retry.retry_of == run_id))))


def chain_ends(session: Session, job_id: int, upto_id: int, limit: int) -> list[bool]:
    """The job's chain ends up to run `upto_id`, newest first: True for a success.
    A failed attempt that was retried ends no chain; dry runs count for nothing."""
    retry = aliased(RunRow)
    rows = session.scalars(
        select(RunRow.state)
        .where(
            RunRow.job_id == job_id,
            RunRow.id <= upto_id,
            RunRow.dry_run.is_(False),
            RunRow.state.in_(CHAIN_ENDS),
            ~exists().where(retry.retry_of == RunRow.id),
        )
        .order_by(RunRow.id.desc())
        .limit(limit)
    )
    return [state == RunState.SUCCEEDED.value for state in rows]


def failure_told(session: Session, alert_id: int, job_name: str) -> bool:
    """Whether the alert's last word on the job was a failure: a recovery is told only
    after one (a failure silenced by a mute was never told, so neither is its end)."""
    last = session.scalar(
        select(AlertMessageRow.event)
        .where(
            AlertMessageRow.alert_id == alert_id,
            AlertMessageRow.job_name == job_name,
            AlertMessageRow.event.in_(TOLD_STATES),
        )
        .order_by(AlertMessageRow.id.desc())
        .limit(1)
    )
    return last == AlertEvent.FAILURE.value


def claim_due(
    session: Session, now: datetime, holder_until: datetime, limit: int
) -> list[AlertMessageRow]:
    """Messages due and held by no other sender, now held until `holder_until`."""
    due = list(
        session.scalars(
            select(AlertMessageRow)
            .where(
                AlertMessageRow.sent_at.is_(None),
                AlertMessageRow.next_attempt_at <= now,
                or_(
                    AlertMessageRow.claimed_until.is_(None),
                    AlertMessageRow.claimed_until < now,
                ),
            )
            .order_by(AlertMessageRow.next_attempt_at, AlertMessageRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for message in due:
        message.claimed_until = holder_until
    return due


def settle(
    session: Session, message_id: int, *, now: datetime, error: str | None, retry_in: timedelta
) -> bool:
    """Record a delivery attempt: sent, or failed and due again after `retry_in`.
    False when the message is gone (its alert was removed meanwhile)."""
    message = session.get(AlertMessageRow, message_id, with_for_update=True)
    if message is None:
        return False
    message.attempts += 1
    message.claimed_until = None
    message.error = error
    if error is None:
        message.sent_at = now
    else:
        message.next_attempt_at = now + retry_in
    alert = session.get(AlertRow, message.alert_id)
    if alert is not None:
        alert.last_result = "delivered" if error is None else f"failed: {error}"
        alert.last_sent_at = now
    return True


def waiting(session: Session, alert_id: int) -> int:
    """Messages of the alert not delivered yet."""
    return int(
        session.scalar(
            select(func.count(AlertMessageRow.id)).where(
                and_(AlertMessageRow.alert_id == alert_id, AlertMessageRow.sent_at.is_(None))
            )
        )
        or 0
    )


def anything_to_do(session: Session, now: datetime) -> bool:
    """Whether an ended run waits to be looked at or a message is due: a read, so
    that an idle pass takes no write lock."""
    unseen = select(RunRow.id).where(
        RunRow.alert_examined.is_(False), RunRow.state.in_([s.value for s in TERMINAL])
    )
    due = select(AlertMessageRow.id).where(
        AlertMessageRow.sent_at.is_(None), AlertMessageRow.next_attempt_at <= now
    )
    return bool(session.scalar(select(exists(unseen.limit(1)) | exists(due.limit(1)))))


def delivery_counts(session: Session) -> tuple[int, int]:
    """Delivery attempts so far: (delivered, failed), those of pruned messages too."""
    sent, attempts = session.execute(
        select(
            func.count(AlertMessageRow.sent_at),
            func.coalesce(func.sum(AlertMessageRow.attempts), 0),
        )
    ).one()
    pruned_sent, pruned_failed = session.execute(
        select(
            func.coalesce(func.sum(AlertRow.pruned_delivered), 0),
            func.coalesce(func.sum(AlertRow.pruned_failed), 0),
        )
    ).one()
    return int(sent) + int(pruned_sent), int(attempts) - int(sent) + int(pruned_failed)


def _prunable(before: datetime) -> Select[Any]:
    """Messages delivered before `before`, but the last failure or recovery each alert
    queued for each job: `failure_told` reads it. What waits is never prunable."""
    told = aliased(AlertMessageRow)
    last_told = (
        select(func.max(told.id))
        .where(told.event.in_(TOLD_STATES))
        .group_by(told.alert_id, told.job_name)
    )
    return select(AlertMessageRow.id).where(
        AlertMessageRow.sent_at.is_not(None),
        AlertMessageRow.sent_at < before,
        AlertMessageRow.id.not_in(last_told),
    )


def count_prunable(session: Session, before: datetime) -> int:
    """How many messages `prune_delivered` would delete."""
    return int(session.scalar(select(func.count()).select_from(_prunable(before).subquery())) or 0)


def prune_delivered(session: Session, before: datetime, limit: int) -> int:
    """Delete up to `limit` prunable messages (see `_prunable`), their delivery
    attempts added to their alerts' pruned counts; return how many went."""
    some = _prunable(before).limit(limit)
    gone = session.execute(
        delete(AlertMessageRow)
        .where(AlertMessageRow.id.in_(some))
        .returning(AlertMessageRow.alert_id, AlertMessageRow.attempts),
        execution_options={"synchronize_session": False},
    ).all()
    by_alert: dict[int, list[int]] = {}
    for alert_id, attempts in gone:
        by_alert.setdefault(alert_id, []).append(attempts)
    for alert_id, tries in sorted(by_alert.items()):
        # Each was delivered once, by its last attempt; the ones before it failed.
        session.execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id)
            .values(
                pruned_delivered=AlertRow.pruned_delivered + len(tries),
                pruned_failed=AlertRow.pruned_failed + sum(max(0, n - 1) for n in tries),
            )
        )
    return len(gone)


def scheduled_jobs(session: Session) -> list[JobRow]:
    """Enabled jobs with a schedule: the only ones that can be stale."""
    return list(
        session.scalars(
            select(JobRow)
            .where(JobRow.enabled.is_(True), JobRow.schedule_kind != "none")
            .order_by(JobRow.id)
        )
    )


def last_successes(session: Session) -> dict[int, datetime]:
    """Each job's last real success (its end), by job id."""
    rows = session.execute(
        select(RunRow.job_id, func.max(RunRow.finished_at))
        .where(
            RunRow.state == RunState.SUCCEEDED.value,
            RunRow.dry_run.is_(False),
            RunRow.job_id.is_not(None),
        )
        .group_by(RunRow.job_id)
    )
    return {job_id: at for job_id, at in rows if job_id is not None and at is not None}


def tell_stale(session: Session, job_id: int, since: datetime) -> bool:
    """Mark the job's stale alert told for the success at `since`; False when it was
    already (another pass got there first)."""
    result = session.execute(
        update(JobRow)
        .where(
            JobRow.id == job_id,
            or_(JobRow.stale_told_for.is_(None), JobRow.stale_told_for != since),
        )
        .values(stale_told_for=since)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def running_untold(session: Session, limit: int) -> list[RunRow]:
    """Running runs no `long` alert was told for, oldest first."""
    return list(
        session.scalars(
            select(RunRow)
            .where(
                RunRow.state == RunState.RUNNING.value,
                RunRow.alert_long_told.is_(False),
                RunRow.started_at.is_not(None),
                RunRow.job_id.is_not(None),
            )
            .order_by(RunRow.started_at)
            .limit(limit)
        )
    )


def success_durations(session: Session, job_id: int, limit: int) -> list[float]:
    """Seconds the job's last `limit` real successes took, newest first."""
    rows = session.execute(
        select(RunRow.started_at, RunRow.finished_at)
        .where(
            RunRow.job_id == job_id,
            RunRow.state == RunState.SUCCEEDED.value,
            RunRow.dry_run.is_(False),
            RunRow.started_at.is_not(None),
            RunRow.finished_at.is_not(None),
        )
        .order_by(RunRow.id.desc())
        .limit(limit)
    )
    return [(end - start).total_seconds() for start, end in rows if start and end]


def tell_long(session: Session, run_id: int) -> bool:
    """Mark the run's `long` alert told; False when it was already or it ended."""
    result = session.execute(
        update(RunRow)
        .where(
            RunRow.id == run_id,
            RunRow.alert_long_told.is_(False),
            RunRow.state == RunState.RUNNING.value,
        )
        .values(alert_long_told=True)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def watched_jobs(session: Session) -> list[JobRow]:
    """Enabled watched folders: the jobs a `watch` alert is about."""
    return list(
        session.scalars(
            select(JobRow)
            .where(JobRow.enabled.is_(True), JobRow.watch.is_(True))
            .order_by(JobRow.id)
        )
    )


def set_watch_told(session: Session, job_id: int, told: bool) -> bool:
    """Move the job's `watch` alert to told (or back); False when it already was."""
    result = session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.watch_told.is_(not told))
        .values(watch_told=told)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def tell_digest(session: Session, alert_id: int, due: datetime) -> bool:
    """Mark the alert's digest due at `due` queued; False when it was already (another
    pass got there first)."""
    result = session.execute(
        update(AlertRow)
        .where(
            AlertRow.id == alert_id,
            or_(AlertRow.digest_sent_for.is_(None), AlertRow.digest_sent_for < due),
        )
        .values(digest_sent_for=due)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def ended_between(session: Session, start: datetime, end: datetime) -> list[RunRow]:
    """Real runs of existing jobs that ended in [start, end), oldest first."""
    return list(
        session.scalars(
            select(RunRow)
            .where(
                RunRow.finished_at >= start,
                RunRow.finished_at < end,
                RunRow.dry_run.is_(False),
                RunRow.job_id.is_not(None),
            )
            .order_by(RunRow.id)
        )
    )
