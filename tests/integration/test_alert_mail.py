"""An alert by e-mail: real Apprise `mailto://` to a real SMTP server (aiosmtpd) on
loopback, logging in with the credentials the sealed URL holds."""

from __future__ import annotations

import email
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.policy import default as default_policy
from typing import Any

import pytest

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.alerts import AlertFields
from synchub.services.jobs.fields import JobFields
from tests.integration.test_alerts import ends
from tests.support.harness import Harness

aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd (the test extra) is not installed")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

# AUTH without TLS is what this loopback test means to do.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@dataclass
class Mailbox:
    """What the SMTP server received, and the logins it accepted."""

    messages: list[Message] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login = (data.login.decode(), data.password.decode())
            if login == ("synchub", "mail-s3cret"):
                self.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    # Plain SMTP on loopback: AUTH without TLS is allowed here, never on a network.
    server = Controller(
        box, hostname="127.0.0.1", port=port, authenticator=box.authenticate,
        auth_required=True, auth_require_tls=False,
    )  # fmt: skip
    server.start()
    yield box, port
    server.stop()


def test_a_failure_and_its_recovery_arrive_by_mail(
    svc: Services, smtp: tuple[Mailbox, int], clock: FakeClock
) -> None:
    box, port = smtp
    svc.jobs.add("nightly", JobFields(kind="scripted", params={"result": "ok"}, retries=0))
    h = Harness(svc, clock)
    url = (
        f"mailto://synchub:mail-s3cret@127.0.0.1:{port}?mode=insecure"
        "&from=synchub@example.com&to=ops@example.com"
    )
    view = svc.alerts.add("mail", AlertFields(url=url))
    assert view.url == "mailto://127.0.0.1/…"
    ends(h, svc, "nightly", "fail")
    ends(h, svc, "nightly", "fail")  # still failing: no second mail
    ends(h, svc, "nightly", "ok")
    assert [m["Subject"] for m in box.messages] == [
        "synchub: nightly failed",
        "synchub: nightly recovered",
    ]
    assert box.messages[0]["To"] == "ops@example.com"
    assert (
        "Job nightly ended failed on its first attempt: boom"
        in box.messages[0].get_body(("plain",)).get_content()
    )  # type: ignore[union-attr]
    assert box.logins == [("synchub", "mail-s3cret")] * 2
    # It should never show the mail password.
    assert "mail-s3cret" not in json.dumps(svc.alerts.show("mail").as_dict())
    assert svc.alerts.show("mail").last_result == "delivered"


def test_a_refused_login_is_a_failed_delivery_that_waits(
    svc: Services, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    url = (
        f"mailto://synchub:wrong@127.0.0.1:{port}?mode=insecure"
        "&from=synchub@example.com&to=ops@example.com"
    )
    svc.alerts.add("mail", AlertFields(url=url))
    tested = svc.alerts.test("mail")
    assert not tested.delivered and "wrong" not in tested.message
    assert box.messages == []
    assert svc.alerts.show("mail").last_result.startswith("failed:")
