"""Console sign-in: a sealed session cookie and CSRF tokens.

The cookie holds the API token it was opened with, sealed (encrypted and
authenticated) under a key derived from synchub's secret key, with when it was
opened and a random session id. Every request opens the seal and authenticates the
token again, so a session ends as soon as its token is revoked or expires, and at
the latest `console_session_hours` after sign-in. Nothing is stored on the server:
any process of the installation can serve any session.

A CSRF token is an HMAC of the session id (or, on the sign-in form, of a nonce in a
cookie of its own) under another derived key: a page of another site can neither
read it nor make it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from synchub.services import Services

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

COOKIE = "synchub_session"
LOGIN_COOKIE = "synchub_signin"
#: Form field and htmx header that carry the CSRF token.
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Session:
    token: str  #: the API token signed in with
    sid: str  #: random: what the CSRF token is made from
    opened_at: datetime


def _fernet(svc: Services) -> Fernet:
    from cryptography.fernet import Fernet

    return Fernet(base64.urlsafe_b64encode(svc.derived_key("console-session")))


def seal(svc: Services, token: str) -> str:
    """A new session's cookie value for `token`, opened now."""
    payload = {
        "t": token,
        "s": secrets.token_hex(16),
        "o": svc.clock.now().timestamp(),
    }
    return _fernet(svc).encrypt(json.dumps(payload).encode()).decode()


def unseal(svc: Services, value: str | None) -> Session | None:
    """The session in a cookie value, or None when there is none, it was not made
    here, or it is older than the session lifetime."""
    from cryptography.fernet import InvalidToken

    if not value or len(value) > 4096:
        return None
    try:
        payload = json.loads(_fernet(svc).decrypt(value.encode()))
        opened = datetime.fromtimestamp(float(payload["o"]), svc.clock.now().tzinfo)
        session = Session(str(payload["t"]), str(payload["s"]), opened)
    except (InvalidToken, ValueError, KeyError, TypeError):
        return None
    age = svc.clock.now() - session.opened_at
    if not timedelta(0) <= age < lifetime(svc):
        return None
    return session


def lifetime(svc: Services) -> timedelta:
    return timedelta(hours=svc.settings.console_session_hours)


def csrf_token(svc: Services, purpose: str, nonce: str) -> str:
    """The CSRF token for a session id (`purpose` "session") or a sign-in nonce."""
    key = svc.derived_key("console-csrf")
    return hmac.new(key, f"{purpose}:{nonce}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(svc: Services, purpose: str, nonce: str | None, given: str | None) -> bool:
    if not nonce or not given:
        return False
    return hmac.compare_digest(csrf_token(svc, purpose, nonce), given)


def new_nonce() -> str:
    return secrets.token_hex(16)
