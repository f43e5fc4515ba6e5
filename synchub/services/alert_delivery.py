"""The delivery of alerts (Apprise) through an outbox that survives restarts.

The alert pass (`examine`) looks at each ended run once and queues its messages in
the same transaction that marks it seen; delivery (`deliver`) claims due messages,
sends them outside any transaction, and records each attempt. A sender that dies
between sending and recording sends that message again: at least once, never lost.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from synchub.core.alerts import (
    LONG_HISTORY,
    AlertEvent,
    events_for,
    long_threshold,
    sends,
    stale_deadline,
)
from synchub.core.durations import format_duration
from synchub.core.runs import SkipReason
from synchub.services.alert_digest import queue_digests
from synchub.services.alert_scope import covers
from synchub.store import alerts as store
from synchub.store import jobs as job_store
from synchub.store.db import reading, transaction
from synchub.store.tables import AlertMessageRow, AlertRow, JobRow, RunRow

if TYPE_CHECKING:
    from synchub.services import Services

#: Runs one pass looks at; the rest wait for the next pass.
EXAMINE_BATCH = 500
DELIVER_BATCH = 50
#: A sender holds a claimed message this long; a dead sender's messages come back.
HOLD = timedelta(minutes=2)
#: Waits between delivery attempts double from SYNCHUB_ALERT_FIRST_RETRY, at most this.
LAST_RETRY = timedelta(hours=1)
#: Why a scheduled run was skipped, as `runs.reason` says: the `missed` event.
SKIPS = (SkipReason.MISSED.value, SkipReason.OVERLAP.value)
#: How often a process looks for stale jobs and long runs: what time alone brings.
TIMED_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Deliveries:
    """Delivery attempts so far, by result."""

    delivered: int
    failed: int


class AlertDelivery:
    """The alert pass and delivery: what AlertService does besides its configuration."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._timed_at: datetime | None = None

    # -- the alert pass and delivery ----------------------------------------------

    def pump(self) -> None:
        """One alert pass and one delivery round, when there is anything to do; the
        timed events every TIMED_EVERY."""
        now = self.svc.clock.now()
        if self._timed_at is None or now - self._timed_at >= TIMED_EVERY:
            self._timed_at = now
            self.examine_time()
        with reading(self.svc.sessions) as session:
            if not store.anything_to_do(session, self.svc.clock.now()):
                return
        self.examine()
        self.deliver()

    def delivery_counts(self) -> Deliveries:
        with reading(self.svc.sessions) as session:
            delivered, failed = store.delivery_counts(session)
        return Deliveries(delivered, failed)

    def examine(self) -> int:
        """Look at the runs that ended since the last pass; queue the messages they
        call for. Returns the number queued."""
        now = self.svc.clock.now()
        queued = 0
        with transaction(self.svc.sessions) as session:
            runs = store.unseen_ended(session, EXAMINE_BATCH)
            store.mark_examined(session, [r.id for r in runs])
            alerts = store.all_alerts(session)
            if not alerts:
                return 0
            for run in runs:
                for alert, event in self._events(session, run, alerts):
                    session.add(self._message(alert, event, run, now))
                    queued += 1
            queued += self._missed(session, runs, alerts, now)
        return queued

    def _missed(
        self,
        session: Session,
        runs: builtins.list[RunRow],
        alerts: builtins.list[AlertRow],
        now: datetime,
    ) -> int:
        """One message per job for the fire times this pass found skipped (by the
        misfire or the overlap policy): a server down a day tells once, not per time."""
        wanted = [a for a in alerts if sends(a.events, AlertEvent.MISSED)]
        skipped: dict[int, builtins.list[RunRow]] = {}
        for run in runs:
            scheduled = run.trigger == "schedule" and run.job_id is not None
            if scheduled and run.state == "skipped" and run.reason in SKIPS:
                assert run.job_id is not None
                skipped.setdefault(run.job_id, []).append(run)
        queued = 0
        for job_id, missed in skipped.items() if wanted else ():
            job = job_store.get_by_id(session, job_id)
            if job is None or _muted(job, now):
                continue
            title, body = _compose_missed(job.name, missed)
            for alert in (a for a in wanted if covers(a, job)):
                session.add(
                    self._note(alert, AlertEvent.MISSED, job.name, missed[-1].id, title, body, now)
                )
                queued += 1
        return queued

    def examine_time(self) -> int:
        """Queue the events that time alone brings: stale jobs, long runs,
        folders that cannot be watched and daily digests, each told once per
        change (a conditional write marks it, so two passes cannot both tell).
        Returns the number queued."""
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            alerts = store.all_alerts(session)
            stale = [a for a in alerts if sends(a.events, AlertEvent.STALE)]
            long = [a for a in alerts if sends(a.events, AlertEvent.LONG)]
            watch = [a for a in alerts if sends(a.events, AlertEvent.WATCH)]
            digest = [a for a in alerts if AlertEvent.DIGEST.value in a.events]
            queued = self._stale(session, stale, now) if stale else 0
            queued += self._long(session, long, now) if long else 0
            queued += self._watch(session, watch, now)
        return queued + (queue_digests(self.svc, now) if digest else 0)

    def _watch(self, session: Session, alerts: builtins.list[AlertRow], now: datetime) -> int:
        """Tell once when a watched folder can no longer be watched; once it can
        again, the next problem is told again. Each change is a conditional write."""
        from synchub.services.jobs.views import watch_problem

        queued = 0
        for job in store.watched_jobs(session):
            problem = watch_problem(job)
            if problem is None:
                if job.watch_told:
                    store.set_watch_told(session, job.id, False)
                continue
            wanted = [a for a in alerts if covers(a, job)]
            if job.watch_told or not wanted or _muted(job, now):
                continue
            if not store.set_watch_told(session, job.id, True):
                continue
            title = f"synchub: {job.name} cannot watch its folder"
            body = (
                f"Job {job.name} cannot watch its folder: {problem}; its changes start no run "
                f"until it can (the periodic rescan goes on){self._job_link(job.name)}."
            )
            for alert in wanted:
                session.add(self._note(alert, AlertEvent.WATCH, job.name, None, title, body, now))
                queued += 1
        return queued

    def _stale(self, session: Session, alerts: builtins.list[AlertRow], now: datetime) -> int:
        successes = store.last_successes(session)
        queued = 0
        for job in store.scheduled_jobs(session):
            # Counted from the last success, or from the job's last change (a new or
            # re-enabled job is not stale at once).
            since = max(successes.get(job.id, job.updated_at), job.updated_at)
            deadline = stale_deadline(job_store.schedule_of(job), since, job.stale_after_s)
            if deadline is None or now < deadline or job.stale_told_for == since:
                continue
            wanted = [a for a in alerts if covers(a, job)]
            if not wanted or _muted(job, now) or not store.tell_stale(session, job.id, since):
                continue
            title = f"synchub: {job.name} is stale"
            body = (
                f"Job {job.name} has had no success since {since.isoformat(timespec='seconds')}"
                f" ({format_duration(int((now - since).total_seconds()))} ago"
                f"{self._job_link(job.name)})."
            )
            for alert in wanted:
                session.add(self._note(alert, AlertEvent.STALE, job.name, None, title, body, now))
                queued += 1
        return queued

    def _long(self, session: Session, alerts: builtins.list[AlertRow], now: datetime) -> int:
        queued = 0
        for run in store.running_untold(session, EXAMINE_BATCH):
            job = job_store.get_by_id(session, run.job_id) if run.job_id else None
            if job is None or run.started_at is None or _muted(job, now):
                continue
            durations = store.success_durations(session, job.id, LONG_HISTORY)
            limit = long_threshold(job.long_after_s, durations)
            running = (now - run.started_at).total_seconds()
            if limit is None or running < limit:
                continue
            wanted = [a for a in alerts if covers(a, job)]
            if not wanted or not store.tell_long(session, run.id):
                continue
            title = f"synchub: {job.name} is taking long"
            body = (
                f"Run {run.id} of job {job.name} has been going for "
                f"{format_duration(int(running))} (long after {format_duration(int(limit))}"
                f"{self._run_link(run.id)})."
            )
            for alert in wanted:
                session.add(self._note(alert, AlertEvent.LONG, job.name, run.id, title, body, now))
                queued += 1
        return queued

    def _job_link(self, job: str) -> str:
        base = self.svc.settings.public_url.rstrip("/")
        return f"; {base}/jobs/{job}" if base else ""

    def _run_link(self, run_id: int) -> str:
        base = self.svc.settings.public_url.rstrip("/")
        return f"; {base}/runs/{run_id}" if base else ""

    @staticmethod
    def _note(
        alert: AlertRow,
        event: AlertEvent,
        job: str,
        run_id: int | None,
        title: str,
        body: str,
        now: datetime,
    ) -> AlertMessageRow:
        return AlertMessageRow(
            alert_id=alert.id, event=event.value, job_name=job, run_id=run_id,
            title=title, body=body, created_at=now, attempts=0, next_attempt_at=now,
        )  # fmt: skip

    def deliver(self) -> int:
        """Send the messages that are due; returns how many were delivered."""
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            due = store.claim_due(session, now, now + HOLD, DELIVER_BATCH)
            batch = [(m.id, m.alert_id, m.title, m.body, m.attempts) for m in due]
            urls = self._urls(session, {alert_id for _, alert_id, *_ in batch})
        delivered = 0
        first_retry = timedelta(seconds=self.svc.settings.alert_first_retry)
        for message_id, alert_id, title, body, attempts in batch:
            url = urls.get(alert_id)
            error = "the alert's URL cannot be read" if url is None else send(url, title, body)
            wait = min(LAST_RETRY, first_retry * (2**attempts))
            with transaction(self.svc.sessions) as session:
                store.settle(
                    session, message_id, now=self.svc.clock.now(), error=error, retry_in=wait
                )
            delivered += error is None
        return delivered

    def _events(
        self, session: Session, run: RunRow, alerts: builtins.list[AlertRow]
    ) -> builtins.list[tuple[AlertRow, AlertEvent]]:
        if run.job_id is None or run.dry_run or run.state not in store.CHAIN_ENDS:
            return []
        if store.is_retried(session, run.id):
            return []  # an attempt, not the chain's end
        job = job_store.get_by_id(session, run.job_id)
        if job is None or _muted(job, run.finished_at or self.svc.clock.now()):
            return []
        wanted = [a for a in alerts if covers(a, job)]
        if not wanted:
            return []
        history = store.chain_ends(session, job.id, run.id, max(a.after for a in wanted) + 1)
        found = []
        for alert in wanted:
            event = events_for(history, alert.after)
            if event is None or not sends(alert.events, event):
                continue
            if event is AlertEvent.RECOVERY and not _after_told(session, alert, job.name):
                continue
            found.append((alert, event))
        return found

    def _message(
        self, alert: AlertRow, event: AlertEvent, run: RunRow, now: datetime
    ) -> AlertMessageRow:
        title, body = compose(event, run, self.svc.settings.public_url)
        return AlertMessageRow(
            alert_id=alert.id, event=event.value, job_name=run.job_name, run_id=run.id,
            title=title, body=body, created_at=now, attempts=0, next_attempt_at=now,
        )  # fmt: skip

    def _urls(self, session: Session, alert_ids: set[int]) -> dict[int, str]:
        urls = {}
        for alert_id in alert_ids:
            row = session.get(AlertRow, alert_id)
            if row is not None and self.svc.box.unreadable(row.url) is None:
                urls[alert_id] = self.svc.box.open(row.url)["url"]
        return urls


def compose(event: AlertEvent, run: RunRow, public_url: str) -> tuple[str, str]:
    """The message's title and body: which job, what happened, the error in one line,
    a link to the run. The error is already scrubbed of the run's secrets."""
    job = run.job_name
    link = f"{public_url.rstrip('/')}/runs/{run.id}" if public_url else f"run {run.id}"
    if event is AlertEvent.RECOVERY:
        return f"synchub: {job} recovered", f"Job {job} succeeded again ({link})."
    attempts = f"after {run.attempt} attempts" if run.attempt > 1 else "on its first attempt"
    cause = (run.error or run.error_class or run.state).splitlines()[0][:300]
    return (
        f"synchub: {job} {run.state.replace('_', ' ')}",
        f"Job {job} ended {run.state.replace('_', ' ')} {attempts}: {cause} ({link}).",
    )


def _compose_missed(job: str, missed: builtins.list[RunRow]) -> tuple[str, str]:
    times = [r.scheduled_for.isoformat(timespec="minutes") for r in missed if r.scheduled_for]
    shown = ", ".join(times[:5]) + (f" and {len(times) - 5} more" if len(times) > 5 else "")
    why = {
        "missed": "nothing was running at the time (misfire policy)",
        "overlap": "the job was still running (overlap policy)",
    }
    reasons = "; ".join(sorted({why[r.reason] for r in missed if r.reason in why}))
    count = f"{len(missed)} fire time{'s' if len(missed) > 1 else ''}"
    return (
        f"synchub: {job} skipped {count}",
        f"Job {job} skipped {count} ({shown}): {reasons}.",
    )


def apprise_module() -> ModuleType:
    """Apprise, its log silenced: it writes whole URLs, credentials and all, into
    its error lines. synchub says what failed itself."""
    import apprise

    logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)
    return apprise


def send(url: str, title: str, body: str) -> str | None:
    """Deliver one message with Apprise; None when delivered, else why not."""
    sender = apprise_module().Apprise()
    if not sender.add(url):
        return "Apprise cannot use this URL"
    result = sender.notify(title=title, body=body)
    return None if result else "the service did not accept the message"


def _after_told(session: Session, alert: AlertRow, job_name: str) -> bool:
    """Whether a recovery follows a failure the alert told; an alert that tells no
    failures tells every recovery its history calls for."""
    if not sends(alert.events, AlertEvent.FAILURE):
        return True
    return store.failure_told(session, alert.id, job_name)


def _muted(job: JobRow, at: datetime) -> bool:
    """Whether the job was muted at `at` (a run's end: a pass that looks a little
    later still honours a mute that ended meanwhile)."""
    return job.muted_until is not None and job.muted_until > at
