"""Alerts: where to tell people that a job failed, recovered, went stale ... (their
configuration; alert_delivery queues and sends the messages)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from synchub.core.alerts import (
    DEFAULT_DIGEST_AT,
    DEFAULT_EVENTS,
    AlertEvent,
    check_after,
    check_digest_at,
    parse_events,
)
from synchub.core.errors import AlertNotFound, AlreadyExists, InvalidInput, JobNotFound
from synchub.core.names import check_name
from synchub.core.text import check_text
from synchub.services.alert_delivery import AlertDelivery, apprise_module, send
from synchub.services.masks import MASK
from synchub.store import alerts as store
from synchub.store import jobs as job_store
from synchub.store.db import reading, transaction
from synchub.store.tables import AlertRow


@dataclass(frozen=True)
class AlertFields:
    url: str
    events: builtins.list[str] | None = None  #: None: failure, recovery, stale
    jobs: builtins.list[str] | None = None
    tags: builtins.list[str] | None = None
    after: int = 1
    digest_at: str | None = None  #: None: 08:00


@dataclass(frozen=True)
class AlertView:
    """An alert as it is shown: its URL by scheme and host only (it may hold
    credentials); instants in ISO 8601."""

    name: str
    url: str  #: the scheme and host only
    events: builtins.list[str]
    jobs: builtins.list[str]
    tags: builtins.list[str]
    after: int  #: failed chains in a row before it tells
    digest_at: str  #: HH:MM, the daily digest's time
    last_result: str | None  #: "delivered" or "failed: why", of the last attempt
    last_sent_at: str | None
    waiting: int  #: messages not delivered yet
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "events": self.events,
            "jobs": self.jobs,
            "tags": self.tags,
            "after": self.after,
            "digest_at": self.digest_at,
            "last_result": self.last_result,
            "last_sent_at": self.last_sent_at,
            "waiting": self.waiting,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Delivery:
    """What sending a message did."""

    delivered: bool
    message: str  #: "delivered", or why not


@dataclass(frozen=True)
class AlertChanges:
    """An edit: None keeps what the alert has; an empty list of jobs or tags clears it."""

    url: str | None = None
    events: builtins.list[str] | None = None
    jobs: builtins.list[str] | None = None
    tags: builtins.list[str] | None = None
    after: int | None = None
    digest_at: str | None = None


class AlertService(AlertDelivery):
    def add(self, name: str, fields: AlertFields) -> AlertView:
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
                self.svc.audit_event(session, "alert.add", name, after=view.as_dict())
        except IntegrityError:
            raise AlreadyExists(f"An alert named {name!r} already exists") from None
        return view

    def edit(self, name: str, changes: AlertChanges) -> AlertView:
        """Change what is given, all checked before anything is written; audited with
        the URL masked."""
        return self._update(name, changes, always=True)[0]

    def change(self, name: str, fields: AlertFields) -> builtins.list[str]:
        """Make alert `name` what `fields` say, checked as `add` checks; `fields.url`
        "********" keeps the stored URL. Returns the fields that changed (none: nothing
        is written). Audited as `alert.edit`, the URL by its hint only."""
        whole = AlertChanges(
            url=None if fields.url == MASK else fields.url,
            events=fields.events or [e.value for e in DEFAULT_EVENTS],
            jobs=fields.jobs or [],
            tags=fields.tags or [],
            after=fields.after,
            digest_at=DEFAULT_DIGEST_AT if fields.digest_at is None else fields.digest_at,
        )
        return self._update(name, whole, always=False)[1]

    def _update(
        self, name: str, changes: AlertChanges, *, always: bool
    ) -> tuple[AlertView, builtins.list[str]]:
        """Make `changes`, all checked before anything is written: the alert as it is
        now, and the fields that changed. Unless `always`, an update that changes
        nothing writes nothing."""
        url = _check_url(changes.url) if changes.url is not None else None
        given: dict[str, Any] = {}
        if changes.events is not None:
            given["events"] = [e.value for e in parse_events(changes.events)]
        if changes.after is not None:
            given["after"] = check_after(changes.after)
        if changes.digest_at is not None:
            given["digest_at"] = check_digest_at(changes.digest_at)
        if changes.tags is not None:
            given["tags"] = [check_text(t, "tag") for t in changes.tags]
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name)
            if changes.jobs is not None:
                given["jobs"] = self._known_jobs(session, changes.jobs)
            changed = [k for k, v in given.items() if getattr(row, k) != v]
            if url is not None and (always or self._stored_url(row) != url):
                changed.append("url")
            before = _view(row, store.waiting(session, row.id))
            if not changed and not always:
                return before, []
            if "events" in given and AlertEvent.DIGEST.value not in row.events:
                row.digest_sent_for = None  # a digest switched on starts afresh
            for key, value in given.items():
                setattr(row, key, value)
            if url is not None:
                sealed = self.svc.box.seal({"url": url})
                assert sealed is not None
                row.url, row.url_hint = sealed, _hint(url)
            row.updated_at = self.svc.clock.now()
            view = _view(row, before.waiting)
            self.svc.audit_event(
                session, "alert.edit", name, before=before.as_dict(), after=view.as_dict()
            )
        return view, sorted(changed)

    def _stored_url(self, row: AlertRow) -> str | None:
        """The alert's URL, None when the key cannot open it."""
        if self.svc.box.unreadable(row.url) is not None:
            return None
        url: str = self.svc.box.open(row.url)["url"]
        return url

    def list(self) -> builtins.list[AlertView]:
        with reading(self.svc.sessions) as session:
            return [_view(r, store.waiting(session, r.id)) for r in store.all_alerts(session)]

    def show(self, name: str) -> AlertView:
        with reading(self.svc.sessions) as session:
            row = self._get(session, name)
            return _view(row, store.waiting(session, row.id))

    def remove(self, name: str) -> None:
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name)
            view = _view(row, store.waiting(session, row.id))
            session.delete(row)
            self.svc.audit_event(session, "alert.remove", name, before=view.as_dict())

    def test(self, name: str) -> Delivery:
        """Send a test message now; what happened, recorded as the alert's last
        result."""
        with reading(self.svc.sessions) as session:
            row = self._get(session, name)
            url = self.svc.box.open(row.url, what=f"The URL of alert {name}")["url"]
        error = send(url, "synchub: test message", f"Alert {name} reaches you.")
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name)
            row.last_result = "delivered" if error is None else f"failed: {error}"
            row.last_sent_at = self.svc.clock.now()
        return Delivery(error is None, "delivered" if error is None else error)

    def _known_jobs(self, session: Session, names: builtins.list[str]) -> builtins.list[str]:
        for name in names:
            if job_store.get(session, name) is None:
                raise JobNotFound(f"No job named {name!r}")
        return sorted(set(names))

    def _get(self, session: Session, name: str) -> AlertRow:
        row = store.get(session, name)
        if row is None:
            raise AlertNotFound(f"No alert named {name!r}")
        return row


def _check_url(url: str) -> str:
    url = check_text(url, "URL").strip()
    if not url or not apprise_module().Apprise().add(url):
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


def _view(row: AlertRow, waiting: int) -> AlertView:
    return AlertView(
        name=row.name,
        url=row.url_hint,
        events=list(row.events),
        jobs=list(row.jobs),
        tags=list(row.tags),
        after=row.after,
        digest_at=row.digest_at,
        last_result=row.last_result,
        last_sent_at=row.last_sent_at.isoformat() if row.last_sent_at else None,
        waiting=waiting,
        created_at=row.created_at.isoformat(),
    )


def _digest_at(text: str | None) -> str:
    return DEFAULT_DIGEST_AT if text is None else check_digest_at(text)


def _checked(fields: AlertFields) -> tuple[builtins.list[AlertEvent], int, builtins.list[str]]:
    """An alert's events, count of failures and tags as given, checked."""
    events = parse_events(fields.events) if fields.events else list(DEFAULT_EVENTS)
    _digest_at(fields.digest_at)  # checked before anything is written
    after = check_after(fields.after)
    tags = [check_text(t, "tag") for t in fields.tags or []]
    return events, after, tags
