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
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError

from synchub.core.alerts import DEFAULT_EVENTS, AlertEvent, check_after, events_for, parse_events
from synchub.core.errors import AlertNotFound, AlreadyExists, InvalidInput, JobNotFound
from synchub.core.names import check_name
from synchub.core.text import check_text
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


@dataclass(frozen=True)
class AlertFields:
    url: str
    events: builtins.list[str] | None = None  #: None: failure and recovery
    jobs: builtins.list[str] | None = None
    tags: builtins.list[str] | None = None
    after: int = 1


class AlertService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

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
                )  # fmt: skip
                session.add(row)
                session.flush()
                view = _view(row, waiting=0)
                self._audit(session, "alert.add", name, after=view)
        except IntegrityError:
            raise AlreadyExists(f"An alert named {name!r} already exists") from None
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
            if url is not None and self._stored_url(row) != url:
                changed.append("url")
            if not changed:
                return []
            before = _view(row, store.waiting(session, row.id))
            row.events, row.jobs, row.tags, row.after = wanted["events"], jobs, tags, after
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
        """One alert pass and one delivery round, when there is anything to do."""
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
        return queued

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
        if job is None:
            return []
        wanted = [a for a in alerts if _covers(a, job)]
        if not wanted:
            return []
        history = store.chain_ends(session, job.id, run.id, max(a.after for a in wanted) + 1)
        found = []
        for alert in wanted:
            event = events_for(history, alert.after)
            if event is not None and event.value in alert.events:
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


def _checked(fields: AlertFields) -> tuple[builtins.list[AlertEvent], int, builtins.list[str]]:
    """An alert's events, count of failures and tags as given, checked."""
    events = parse_events(fields.events) if fields.events else list(DEFAULT_EVENTS)
    after = check_after(fields.after)
    tags = [check_text(t, "tag") for t in fields.tags or []]
    return events, after, tags


def _hint(url: str) -> str:
    """What may be shown of a URL that holds credentials: its scheme and host."""
    parts = urlsplit(url)
    host = (parts.hostname or "")[:60]
    return f"{parts.scheme}://{host}/…" if host else f"{parts.scheme}://…"


def _covers(alert: AlertRow, job: JobRow) -> bool:
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
        "last_result": row.last_result,
        "last_sent_at": row.last_sent_at.isoformat() if row.last_sent_at else None,
        "waiting": waiting,
        "created_at": row.created_at.isoformat(),
    }
