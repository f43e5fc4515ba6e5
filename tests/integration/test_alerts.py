"""Alerts delivered for real by Apprise to a JSON receiver on loopback: once per change
of a job's state, through an outbox that keeps what it could not deliver."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from synchub.core.clock import FakeClock
from synchub.core.errors import AlertNotFound, AlreadyExists, InvalidInput, JobNotFound
from synchub.services import Services
from synchub.services.alerts import AlertChanges, AlertFields, Delivery
from synchub.services.jobs.fields import JobFields
from synchub.store.db import reading
from synchub.store.tables import AlertMessageRow
from tests.support.harness import Harness


class Receiver:
    """An HTTP server that records each JSON body posted to it; `up` False answers 503."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.up = True
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.up:
                    receiver.bodies.append(json.loads(data))
                self.send_response(200 if receiver.up else 503)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def titles(self) -> list[str]:
        return [b["title"] for b in self.bodies]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def ends(harness: Harness, svc: Services, job: str, result: str) -> None:
    """Run the job once to its chain's end (its retries too, with time moved on)."""
    svc.jobs.edit(job, JobFields(params={"result": result}))
    svc.runs.request(job)
    for _ in range(10):
        harness.step()
        harness.clock.advance(3600)
    svc.alerts.examine()
    svc.alerts.deliver()


@pytest.fixture
def harness(svc: Services, clock: FakeClock) -> Harness:
    """The harness, with job `nightly` (succeeds, no retries)."""
    svc.jobs.add("nightly", JobFields(kind="scripted", params={"result": "ok"}, retries=0))
    return Harness(svc, clock)


def test_a_failure_tells_once_and_its_recovery_once(
    svc: Services, harness: Harness, receiver: Receiver
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url))
    ends(harness, svc, "nightly", "ok")
    assert receiver.bodies == []  # a success after nothing tells nothing
    ends(harness, svc, "nightly", "fail")
    assert receiver.titles() == ["synchub: nightly failed"]
    assert "Job nightly ended failed on its first attempt: boom" in receiver.bodies[0]["message"]
    ends(harness, svc, "nightly", "fail")
    assert len(receiver.bodies) == 1  # still failing: nothing new
    ends(harness, svc, "nightly", "ok")
    assert receiver.titles()[1:] == ["synchub: nightly recovered"]
    assert svc.alerts.show("ops").last_result == "delivered"


def test_retries_are_attempts_and_after_n_waits_for_n_failed_chains(
    svc: Services, harness: Harness, receiver: Receiver
) -> None:
    svc.jobs.edit("nightly", JobFields(retries=2))
    svc.alerts.add("ops", AlertFields(url=receiver.url, after=2, events=["failure"]))
    ends(harness, svc, "nightly", "fail")
    assert receiver.bodies == []  # three attempts, one chain
    ends(harness, svc, "nightly", "fail")
    assert receiver.titles() == ["synchub: nightly failed"]
    assert "after 3 attempts" in receiver.bodies[0]["message"]
    ends(harness, svc, "nightly", "ok")
    assert len(receiver.bodies) == 1  # recovery was not asked for


def test_an_alert_covers_only_its_jobs_and_tags(
    svc: Services, harness: Harness, receiver: Receiver
) -> None:
    svc.jobs.add("other", JobFields(kind="scripted", params={"result": "ok"}, retries=0,
                                    tags=["photos"]))  # fmt: skip
    svc.alerts.add("photos", AlertFields(url=receiver.url, tags=["photos"]))
    ends(harness, svc, "nightly", "fail")
    assert receiver.bodies == []
    ends(harness, svc, "other", "fail")
    assert receiver.titles() == ["synchub: other failed"]


def test_an_undelivered_message_waits_in_the_outbox_and_goes_when_it_can(
    svc: Services, harness: Harness, receiver: Receiver, settings: Any, clock: FakeClock
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url))
    receiver.up = False
    ends(harness, svc, "nightly", "fail")
    view = svc.alerts.show("ops")
    assert view.waiting == 1 and view.last_result.startswith("failed:")
    receiver.up = True
    # Another process (a restart) takes over: the message is in the database.
    other = Services(settings, clock=clock, engines=svc.engines)
    try:
        assert other.alerts.deliver() == 0  # not due yet: it waits a minute
        clock.advance(61)
        assert other.alerts.deliver() == 1
        assert other.alerts.deliver() == 0  # sent once
    finally:
        other.close()
    assert receiver.titles() == ["synchub: nightly failed"]
    assert svc.alerts.show("ops").waiting == 0


def test_the_first_retry_waits_as_long_as_the_setting_says_and_each_next_twice_that(
    svc: Services, harness: Harness, receiver: Receiver, settings: Any, clock: FakeClock
) -> None:
    def attempts() -> int:
        with reading(svc.sessions) as session:
            return int(session.scalar(select(AlertMessageRow.attempts)) or 0)

    svc.alerts.add("ops", AlertFields(url=receiver.url))
    svc.jobs.edit("nightly", JobFields(params={"result": "fail"}))
    svc.runs.request("nightly")
    harness.step()
    svc.alerts.examine()
    receiver.up = False
    quick = Services(
        settings.model_copy(update={"alert_first_retry": 5.0}), clock=clock, engines=svc.engines
    )
    try:
        assert quick.alerts.deliver() == 0 and attempts() == 1
        clock.advance(4)
        assert quick.alerts.deliver() == 0 and attempts() == 1  # not due yet
        clock.advance(2)
        assert quick.alerts.deliver() == 0 and attempts() == 2  # tried, failed again
        clock.advance(9)
        assert quick.alerts.deliver() == 0 and attempts() == 2  # the next wait is 10 s
        receiver.up = True
        clock.advance(2)
        assert quick.alerts.deliver() == 1 and attempts() == 3
    finally:
        quick.close()
    assert receiver.titles() == ["synchub: nightly failed"]


def test_runs_that_ended_before_an_alert_existed_tell_nothing(
    svc: Services, harness: Harness, receiver: Receiver
) -> None:
    ends(harness, svc, "nightly", "fail")
    svc.alerts.add("ops", AlertFields(url=receiver.url))
    svc.alerts.examine()
    svc.alerts.deliver()
    assert receiver.bodies == []


def test_bad_alerts_are_refused_and_change_nothing(svc: Services, receiver: Receiver) -> None:
    for fields, error in [
        (AlertFields(url="not a url"), "Not a URL Apprise can send to"),
        (AlertFields(url=receiver.url, after=0), "Bad --after 0"),
        (AlertFields(url=receiver.url, events=["failure", "explode"]), "Unknown event"),
        (AlertFields(url=receiver.url, events=["digest"], digest_at="25:00"), "Bad --digest-at"),
        (AlertFields(url=receiver.url + "\n"), "URL"),
    ]:
        with pytest.raises(InvalidInput, match=error):
            svc.alerts.add("bad", fields)
    with pytest.raises(JobNotFound):
        svc.alerts.add("bad", AlertFields(url=receiver.url, jobs=["nope"]))
    assert svc.alerts.list() == []
    svc.alerts.add("ops", AlertFields(url=receiver.url))
    with pytest.raises(AlreadyExists):
        svc.alerts.add("ops", AlertFields(url=receiver.url))


def test_the_url_is_sealed_and_never_shown(
    svc: Services, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidInput):
        svc.alerts.add("bad", AlertFields(url="nosuchservice://hunter2-secret@host"))
    svc.alerts.add("down", AlertFields(url="json://user:hunter2-secret@127.0.0.1:9/"))
    assert svc.alerts.test("down").delivered is False
    # Apprise logs whole URLs: its log is silenced.
    assert "hunter2" not in caplog.text
    secret_url = receiver.url.replace("json://", "json://user:hunter2-secret@")
    view = svc.alerts.add("ops", AlertFields(url=secret_url))
    assert "hunter2" not in json.dumps([a.as_dict() for a in svc.alerts.list()])
    assert view.url == "json://127.0.0.1/…"
    assert "hunter2" not in json.dumps(svc.audit.page(limit=10), default=str)
    with svc.db.connect() as conn:
        stored = conn.exec_driver_sql("SELECT url FROM alerts WHERE name = 'ops'").scalar_one()
    assert b"hunter2" not in bytes(stored)


def test_test_sends_now_and_reports_the_result(svc: Services, receiver: Receiver) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url))
    assert svc.alerts.test("ops") == Delivery(True, "delivered")
    assert receiver.titles() == ["synchub: test message"]
    receiver.up = False
    tested = svc.alerts.test("ops")
    assert not tested.delivered and "did not accept" in tested.message
    assert svc.alerts.show("ops").last_result.startswith("failed:")


def test_edit_changes_what_is_given_and_keeps_the_rest(
    svc: Services, harness: Harness, receiver: Receiver
) -> None:
    svc.alerts.add("ops", AlertFields(url="json://127.0.0.1:9/", jobs=["nightly"], after=2))
    secret_url = receiver.url.replace("json://", "json://user:hunter2-secret@")
    view = svc.alerts.edit("ops", AlertChanges(url=secret_url, events=["failure"]))
    assert (view.events, view.jobs, view.after) == (["failure"], ["nightly"], 2)
    view = svc.alerts.edit("ops", AlertChanges(jobs=[], tags=["photos"], after=1))
    assert (view.jobs, view.tags, view.after) == ([], ["photos"], 1)
    svc.alerts.edit("ops", AlertChanges(tags=[]))
    # It should send to the new URL, and audit the edit without the secret.
    assert svc.alerts.test("ops") == Delivery(True, "delivered")
    events = svc.audit.page(limit=10)
    assert "hunter2" not in json.dumps(events, default=str)
    assert "alert.edit" in json.dumps(events, default=str)
    ends(harness, svc, "nightly", "fail")
    assert receiver.titles() == ["synchub: test message", "synchub: nightly failed"]


def test_a_bad_edit_is_refused_and_changes_nothing(svc: Services, receiver: Receiver) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url))
    before = svc.alerts.show("ops")
    for changes, error in [
        (AlertChanges(url="not a url", after=3), "Not a URL Apprise can send to"),
        (AlertChanges(after=0, events=["failure"]), "Bad --after 0"),
        (AlertChanges(events=["explode"], after=3), "Unknown event"),
        (AlertChanges(tags=["ok", "bad\x00"], after=3), "tag"),
    ]:
        with pytest.raises(InvalidInput, match=error):
            svc.alerts.edit("ops", changes)
    with pytest.raises(JobNotFound):
        svc.alerts.edit("ops", AlertChanges(jobs=["nope"], after=3))
    with pytest.raises(AlertNotFound):
        svc.alerts.edit("nope", AlertChanges(after=3))
    assert svc.alerts.show("ops") == before
    assert svc.alerts.test("ops") == Delivery(True, "delivered")  # the URL is the old one


def test_a_muted_job_queues_no_message_until_its_mute_ends_or_it_is_unmuted(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url, events=["failure"]))
    view = svc.jobs.mute("nightly", "2h")
    assert view.muted_until == (clock.now() + timedelta(hours=2)).isoformat()
    assert svc.jobs.show("nightly").muted_until == view.muted_until
    svc.jobs.edit("nightly", JobFields(params={"result": "fail"}))
    svc.runs.request("nightly")
    harness.step()
    svc.alerts.examine()
    svc.alerts.deliver()
    assert receiver.bodies == [] and svc.alerts.show("ops").waiting == 0
    # It should end by itself: two hours later the job tells again.
    clock.advance(2 * 3600 + 1)
    assert svc.jobs.show("nightly").muted_until is None
    ends(harness, svc, "nightly", "ok")
    ends(harness, svc, "nightly", "fail")
    assert receiver.titles() == ["synchub: nightly failed"]
    # It should stop at unmute, and a new mute replaces the old one.
    ends(harness, svc, "nightly", "ok")
    svc.jobs.mute("nightly", 60)
    svc.jobs.mute("nightly", "1d")
    ends(harness, svc, "nightly", "fail")
    assert len(receiver.bodies) == 1
    ends(harness, svc, "nightly", "ok")
    assert svc.jobs.unmute("nightly").muted_until is None
    ends(harness, svc, "nightly", "fail")
    assert len(receiver.bodies) == 2
    actions = [e.action for e in svc.audit.page(limit=20)]
    assert {"job.mute", "job.unmute"} <= set(actions)


def test_a_bad_mute_is_refused_and_changes_nothing(svc: Services, harness: Harness) -> None:
    bad: list[tuple[str | int, str]] = [
        ("2", "give a unit"),
        ("0s", "at least"),
        (0, "at least"),
        ("-1h", "negative"),
        ("11000d", "at most 10 years"),
        ("", "empty"),
    ]
    for duration, error in bad:
        with pytest.raises(InvalidInput, match=error):
            svc.jobs.mute("nightly", duration)
    assert svc.jobs.show("nightly").muted_until is None
    with pytest.raises(JobNotFound):
        svc.jobs.mute("nope", "1h")


def test_a_failure_silenced_by_a_mute_is_not_followed_by_a_recovery(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url))
    svc.jobs.mute("nightly", "2h")
    ends(harness, svc, "nightly", "fail")
    clock.advance(2 * 3600 + 1)
    ends(harness, svc, "nightly", "ok")
    assert receiver.titles() == []
    # Once a failure is told, its recovery is told too.
    ends(harness, svc, "nightly", "fail")
    ends(harness, svc, "nightly", "ok")
    assert receiver.titles() == ["synchub: nightly failed", "synchub: nightly recovered"]


def outbox(svc: Services) -> list[tuple[str, str, bool]]:
    """The outbox, oldest first: (job, event, delivered) per message."""
    with reading(svc.sessions) as session:
        rows = session.scalars(select(AlertMessageRow).order_by(AlertMessageRow.id))
        return [(m.job_name, m.event, m.sent_at is not None) for m in rows]


def no_pause(_: float) -> None:
    pass


def test_pruning_takes_old_delivered_messages_and_keeps_what_the_alerts_read(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.jobs.add("weekly", JobFields(kind="scripted", params={"result": "ok"}, retries=0))
    svc.alerts.add("ops", AlertFields(url=receiver.url))
    svc.alerts.add("pager", AlertFields(url=receiver.url, events=["failure"]))
    for result in ("fail", "ok", "fail"):
        ends(harness, svc, "nightly", result)
    ends(harness, svc, "weekly", "fail")
    receiver.up = False
    ends(harness, svc, "weekly", "ok")  # a recovery that waits
    counts = svc.alerts.delivery_counts()
    assert (counts.delivered, counts.failed) == (7, 1)
    with reading(svc.sessions) as session:
        sent = list(
            session.scalars(
                select(AlertMessageRow.sent_at).where(AlertMessageRow.sent_at.is_not(None))
            )
        )
        first, last = min(t for t in sent if t), max(t for t in sent if t)
    keep = timedelta(days=svc.settings.keep_alerts_days)
    clock.advance((first + keep - timedelta(seconds=1) - clock.now()).total_seconds())
    # It should keep what was delivered within the setting's days.
    assert svc.retention.prune(pause=no_pause).alert_messages == 0
    clock.advance((last + keep + timedelta(seconds=1) - clock.now()).total_seconds())

    assert svc.retention.prune(dry_run=True, pause=no_pause).alert_messages == 4
    pruned = svc.retention.prune(pause=no_pause)

    # It should delete the old delivered messages, but the last failure or recovery
    # each alert told of each job (what decides a recovery), and what waits.
    assert pruned.alert_messages == 4
    assert outbox(svc) == [
        ("nightly", "failure", True),  # ops: the last word on nightly
        ("nightly", "failure", True),  # pager
        ("weekly", "failure", True),  # pager: it tells no recovery
        ("weekly", "recovery", False),  # ops: waiting
    ]
    # It should never lower the delivery counter.
    after = svc.alerts.delivery_counts()
    assert (after.delivered, after.failed) == (counts.delivered, counts.failed)
    assert svc.retention.prune(pause=no_pause).alert_messages == 0


def test_a_failure_told_long_ago_is_still_followed_by_one_recovery_after_pruning(
    svc: Services, harness: Harness, receiver: Receiver, clock: FakeClock
) -> None:
    svc.alerts.add("ops", AlertFields(url=receiver.url))
    for result in ("fail", "ok", "fail"):
        ends(harness, svc, "nightly", result)
    clock.advance(svc.settings.keep_alerts_days * 3 * 86400)
    assert svc.retention.prune(pause=no_pause).alert_messages == 2
    assert outbox(svc) == [("nightly", "failure", True)]

    ends(harness, svc, "nightly", "ok")
    ends(harness, svc, "nightly", "ok")

    assert receiver.titles()[3:] == ["synchub: nightly recovered"]
