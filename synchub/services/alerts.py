"""Alerts: where to tell people that a job failed or recovered, and the delivery of
those messages (Apprise) through an outbox that survives restarts.

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
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError

from synchub.core.alerts import (
    DEFAULT_DIGEST_AT,
    DEFAULT_EVENTS,
    LONG_HISTORY,
    AlertEvent,
    check_after,
    check_digest_at,
    events_for,
    long_threshold,
    parse_events,
    sends,
    stale_deadline,
)
from synchub.core.durations import format_duration
from synchub.core.errors import AlertNotFound, AlreadyExists, InvalidInput, JobNotFound
from synchub.core.names import check_name
from synchub.core.runs import SkipReason
from synchub.core.text import check_text
from synchub.services.alert_digest import queue_digests
from synchub.store import alerts as store
from synchub.store import audit
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
#: Waits between delivery attempts: doubling from a minute, at most an hour.
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=1)
#: Why a scheduled run was skipped, as `runs.reason` says: the `missed` event.
SKIPS = (SkipReason.MISSED.value, SkipReason.OVERLAP.value)
#: How often a process looks for stale jobs and long runs: what time alone brings.
TIMED_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class AlertFields:
    url: str
    events: builtins.list[str] | None = None  #: None: failure, recovery, stale
    jobs: builtins.list[str] | None = None
    tags: builtins.list[str] | None = None
    after: int = 1
    digest_at: str | None = None  #: None: 08:00


@dataclass(frozen=True)
class AlertChanges:
    """An edit: None keeps what the alert has; an empty list of jobs or tags clears it."""

    url: str | None = None
    events: builtins.list[str] | None = None
    jobs: builtins.list[str] | None = None
    tags: builtins.list[str] | None = None
    after: int | None = None
    digest_at: str | None = None


class AlertService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._timed_at: datetime | None = None

    # -- configuration ------------------------------------------------------------

    def add(self, name: str, fields: AlertFields) -> dict[str, Any]:
        check_name(name, what="alert")
        url = _check_url(fields.url)
        events, after, tags = _checked(fields)
        now = self.svc.clock.now()
        try:
            with transaction(self.svc.sessions) as session:
                jobs = self._known_jobs(session, fields.jobs or [])
                sealed = self.svc.box.seal({"url": url})
                assert sealed is not None
                row = AlertRow(
                    name=name, url=sealed, url_hint=_hint(url), events=[e.value for e in events],
                    jobs=jobs, tags=tags, after=after, created_at=now, updated_at=now,
                    digest_at=_digest_at(fields.digest_at),
                )  # fmt: skip
                session.add(row)
                session.flush()
                view = _view(row, waiting=0)
                self._audit(session, "alert.add", name, after=view)
        except IntegrityError:
            raise AlreadyExists(f"An alert named {name!r} already exists") from None
        return view

    def edit(self, name: str, changes: AlertChanges) -> dict[str, Any]:
        """Change what is given, all checked before anything is written; audited with
        the URL masked."""
        url = _check_url(changes.url) if changes.url is not None else None
        events = parse_events(changes.events) if changes.events is not None else None
        after = check_after(changes.after) if changes.after is not None else None
        digest_at = check_digest_at(changes.digest_at) if changes.digest_at is not None else None
        tags = [check_text(t, "tag") for t in changes.tags] if changes.tags is not None else None
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name)
            before = _view(row, store.waiting(session, row.id))
            if changes.jobs is not None:
                row.jobs = self._known_jobs(session, changes.jobs)
            if url is not None:
                sealed = self.svc.box.seal({"url": url})
                assert sealed is not None
                row.url, row.url_hint = sealed, _hint(url)
            if events is not None:
                if AlertEvent.DIGEST.value not in row.events:
                    row.digest_sent_for = None  # a digest switched on starts afresh
                row.events = [e.value for e in events]
            if digest_at is not None:
                row.digest_at = digest_at
            if after is not None:
                row.after = after
            if tags is not None:
                row.tags = tags
            row.updated_at = self.svc.clock.now()
            view = _view(row, before["waiting"])
            self._audit(session, "alert.edit", name, before=before, after=view)
        return view

    def change(self, name: str, fields: AlertFields) -> builtins.list[str]:
        """Make alert `name` what `fields` say, checked as `add` checks; `fields.url`
        "********" keeps the stored URL. Returns the fields that changed (none: nothing
        is written). Audited as `alert.edit`, the URL by its hint only."""
        from synchub.services.remotes import MASK

        url = None if fields.url == MASK else _check_url(fields.url)
        events, after, tags = _checked(fields)
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name)
            jobs = self._known_jobs(session, fields.jobs or [])
            wanted = {"events": [e.value for e in events], "jobs": jobs, "tags": tags}
            changed = [k for k, v in wanted.items() if getattr(row, k) != v]
            changed += ["after"] if row.after != after else []
            digest_at = _digest_at(fields.digest_at)
            changed += ["digest_at"] if row.digest_at != digest_at else []
            if url is not None and self._stored_url(row) != url:
                changed.append("url")
            if not changed:
                return []
            before = _view(row, store.waiting(session, row.id))
            row.events, row.jobs, row.tags, row.after = wanted["events"], jobs, tags, after
            row.digest_at = digest_at
            if url is not None:
                sealed = self.svc.box.seal({"url": url})
                assert sealed is not None
                row.url, row.url_hint = sealed, _hint(url)
            row.updated_at = self.svc.clock.now()
            session.flush()
            after_view = _view(row, store.waiting(session, row.id))
            self._audit(session, "alert.edit", name, before=before, after=after_view)
        return sorted(changed)

    def _stored_url(self, row: AlertRow) -> str | None:
        """The alert's URL, None when the key cannot open it."""
        if self.svc.box.unreadable(row.url) is not None:
            return None
        url: str = self.svc.box.open(row.url)["url"]
        return url

    def list(self) -> builtins.list[dict[str, Any]]:
        with reading(self.svc.sessions) as session:
            return [_view(r, store.waiting(session, r.id)) for r in store.all_alerts(session)]

    def show(self, name: str) -> dict[str, Any]:
        with reading(self.svc.sessions) as session:
            row = self._get(session, name)
            return _view(row, store.waiting(session, row.id))

    def remove(self, name: str) -> None:
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name)
            view = _view(row, store.waiting(session, row.id))
            session.delete(row)
            self._audit(session, "alert.remove", name, before=view)

    def test(self, name: str) -> tuple[bool, str]:
        """Send a test message now; (delivered, what happened), recorded as the alert's
        last result."""
        with reading(self.svc.sessions) as session:
            row = self._get(session, name)
            url = self.svc.box.open(row.url, what=f"The URL of alert {name}")["url"]
        error = send(url, "synchub: test message", f"Alert {name} reaches you.")
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name)
            row.last_result = "delivered" if error is None else f"failed: {error}"
            row.last_sent_at = self.svc.clock.now()
        return error is None, "delivered" if error is None else error

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

    def delivery_counts(self) -> dict[str, int]:
        with reading(self.svc.sessions) as session:
            return store.delivery_counts(session)

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
        session: Any,
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

    def _watch(self, session: Any, alerts: builtins.list[AlertRow], now: datetime) -> int:
        """Tell once when a watched folder can no longer be watched; once it can
        again, the next problem is told again. Each change is a conditional write."""
        from synchub.services.jobs import JobService

        queued = 0
        for job in store.watched_jobs(session):
            problem = JobService.watch_problem(job)
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

    def _stale(self, session: Any, alerts: builtins.list[AlertRow], now: datetime) -> int:
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

    def _long(self, session: Any, alerts: builtins.list[AlertRow], now: datetime) -> int:
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
        for message_id, alert_id, title, body, attempts in batch:
            url = urls.get(alert_id)
            error = "the alert's URL cannot be read" if url is None else send(url, title, body)
            wait = min(LAST_RETRY, FIRST_RETRY * (2**attempts))
            with transaction(self.svc.sessions) as session:
                store.settle(
                    session, message_id, now=self.svc.clock.now(), error=error, retry_in=wait
                )
            delivered += error is None
        return delivered

    def _events(
        self, session: Any, run: RunRow, alerts: builtins.list[AlertRow]
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
            if event is not None and sends(alert.events, event):
                found.append((alert, event))
        return found

    def _message(
        self, alert: AlertRow, event: AlertEvent, run: RunRow, now: Any
    ) -> AlertMessageRow:
        title, body = compose(event, run, self.svc.settings.public_url)
        return AlertMessageRow(
            alert_id=alert.id, event=event.value, job_name=run.job_name, run_id=run.id,
            title=title, body=body, created_at=now, attempts=0, next_attempt_at=now,
        )  # fmt: skip

    def _urls(self, session: Any, alert_ids: set[int]) -> dict[int, str]:
        urls = {}
        for alert_id in alert_ids:
            row = session.get(AlertRow, alert_id)
            if row is not None and self.svc.box.unreadable(row.url) is None:
                urls[alert_id] = self.svc.box.open(row.url)["url"]
        return urls

    def _known_jobs(self, session: Any, names: builtins.list[str]) -> builtins.list[str]:
        for name in names:
            if job_store.get(session, name) is None:
                raise JobNotFound(f"No job named {name!r}")
        return sorted(set(names))

    def _get(self, session: Any, name: str) -> AlertRow:
        row = store.get(session, name)
        if row is None:
            raise AlertNotFound(f"No alert named {name!r}")
        return row

    def _audit(self, session: Any, action: str, name: str, **views: Any) -> None:
        audit.record(
            session, at=self.svc.clock.now(), actor=self.svc.actor, action=action,
            target_type="alert", target=name, **views,
        )  # fmt: skip


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


def _apprise() -> Any:
    """Apprise, its log silenced: it writes whole URLs, credentials and all, into
    its error lines. synchub says what failed itself."""
    import apprise

    logging.getLogger("apprise").setLevel(logging.CRITICAL + 1)
    return apprise


def send(url: str, title: str, body: str) -> str | None:
    """Deliver one message with Apprise; None when delivered, else why not."""
    sender = _apprise().Apprise()
    if not sender.add(url):
        return "Apprise cannot use this URL"
    result = sender.notify(title=title, body=body)
    return None if result else "the service did not accept the message"


def _check_url(url: str) -> str:
    url = check_text(url, "URL").strip()
    if not url or not _apprise().Apprise().add(url):
        raise InvalidInput(
            "Not a URL Apprise can send to: e.g. mailto://user:pass@example.com, "
            "json://host/path, ntfy://topic (see Apprise's list of services)"
        )
    return url


def _hint(url: str) -> str:
    """What may be shown of a URL that holds credentials: its scheme and host."""
    parts = urlsplit(url)
    host = (parts.hostname or "")[:60]
    return f"{parts.scheme}://{host}/…" if host else f"{parts.scheme}://…"


def _muted(job: JobRow, at: datetime) -> bool:
    """Whether the job was muted at `at` (a run's end: a pass that looks a little
    later still honours a mute that ended meanwhile)."""
    return job.muted_until is not None and job.muted_until > at


def covers(alert: AlertRow, job: JobRow) -> bool:
    if not alert.jobs and not alert.tags:
        return True
    return job.name in alert.jobs or bool(set(alert.tags) & set(job.tags))


def _view(row: AlertRow, waiting: int) -> dict[str, Any]:
    return {
        "name": row.name,
        "url": row.url_hint,
        "events": list(row.events),
        "jobs": list(row.jobs),
        "tags": list(row.tags),
        "after": row.after,
        "digest_at": row.digest_at,
        "last_result": row.last_result,
        "last_sent_at": row.last_sent_at.isoformat() if row.last_sent_at else None,
        "waiting": waiting,
        "created_at": row.created_at.isoformat(),
    }


def _digest_at(text: str | None) -> str:
    return DEFAULT_DIGEST_AT if text is None else check_digest_at(text)


def _checked(fields: AlertFields) -> tuple[builtins.list[AlertEvent], int, builtins.list[str]]:
    """An alert's events, count of failures and tags as given, checked."""
    events = parse_events(fields.events) if fields.events else list(DEFAULT_EVENTS)
    _digest_at(fields.digest_at)  # checked before anything is written
    after = check_after(fields.after)
    tags = [check_text(t, "tag") for t in fields.tags or []]
    return events, after, tags
