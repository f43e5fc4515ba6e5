"""API tokens and roles: create (the secret is shown once), list, revoke, authenticate.

A token is `shub_` followed by 256 random bits (URL-safe base64). Only its SHA-256
digest is stored. A fast hash is the right tool here, and argon2 is not: argon2 makes
guessing a *low-entropy* password expensive, but nobody can enumerate 2**256 secrets
however cheap each guess is, so the slow hash would only add tens of milliseconds
and a memory spike to every API request. Lookup is by digest through a unique index,
so no secret is ever compared byte by byte.

An admin may instead *give* a token's value, for a client with a fixed, built-in
token (the rclone-sync-hub console sends `mock-token-123456`). Such a value is only
as strong as it is secret, and its digest does not hide a guessable one: that is
the trade-off accepted, so such a token is best limited by a scope and a role below
admin (the console needs an operator's: see `folders` for what that allows there).

A token's *scope* limits the paths it may be used on (`compat-rsh`: only under
/compat/rsh); a token without one is usable everywhere. The API checks it where it
authenticates a request, so no route can forget it.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import queue
import secrets
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.exc import IntegrityError

from synchub.core.clock import iso
from synchub.core.durations import parse_duration
from synchub.core.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    TokenNotFound,
    Unauthenticated,
)
from synchub.core.names import check_name
from synchub.store import tokens as store
from synchub.store.db import reading, transaction
from synchub.store.outage import fault
from synchub.store.tables import TokenRow

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from synchub.services.context import Services

log = logging.getLogger(__name__)

PREFIX = "shub_"
#: How often a token's `last_used_at` is written at most.
TOUCH_EVERY = timedelta(seconds=60)
#: The longest lifetime a token may be given (omit --expires for one that never ends).
MAX_LIFETIME_S = 10 * 365 * 86400
#: The name `synchub init` gives the first admin token.
FIRST_ADMIN = "admin"
#: The longest token value an admin may give.
MAX_VALUE_CHARS = 200


class Role(StrEnum):
    VIEWER = "viewer"  #: reads everything except secrets
    OPERATOR = "operator"  #: also runs, cancels and retries runs, enables and disables jobs
    ADMIN = "admin"  #: also changes configuration (remotes, jobs) and tokens

    def allows(self, needed: Role) -> bool:
        """True when this role may do what `needed` may: viewer < operator < admin."""
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class Scope(StrEnum):
    """Where a token may be used; a token without a scope may be used everywhere."""

    COMPAT_RSH = "compat-rsh"  #: only the rclone-sync-hub console's API, under /compat/rsh

    @property
    def prefix(self) -> str:
        """The URL path prefix this scope allows."""
        return _PREFIXES[self]

    def allows(self, path: str) -> bool:
        """True when `path` is the prefix itself or under it (not /compat/rshX)."""
        return path == self.prefix or path.startswith(self.prefix + "/")


_PREFIXES = {Scope.COMPAT_RSH: "/compat/rsh"}


@dataclass(frozen=True)
class TokenView:
    """A token as it is shown: never its secret or digest; instants in ISO 8601."""

    name: str
    role: str  #: a Role's value, as stored
    scope: str | None  #: a Scope's value, as stored; None: usable everywhere
    state: Literal["active", "expired", "revoked"]
    hint: str  #: the first characters of the secret, then "…"
    given: bool  #: its value was given at creation rather than generated: weaker
    created_at: str
    created_by: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "scope": self.scope,
            "state": self.state,
            "hint": self.hint,
            "given": self.given,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a token's name (the audit's actor), its role, and the
    paths it may be used on (None: everywhere)."""

    name: str
    role: Role
    scope: Scope | None = None


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"Bad role {value!r}: use one of {allowed}") from None


def _scope(value: str | None) -> Scope | None:
    if value is None:
        return None
    try:
        return Scope(value)
    except ValueError:
        allowed = ", ".join(s.value for s in Scope)
        raise InvalidInput(
            f"Bad scope {value!r}: use one of {allowed}, or none for a token usable everywhere"
        ) from None


def _plausible(secret: str) -> bool:
    """True for what could be a token: 1-200 visible ASCII characters. Anything else
    cannot travel in an `Authorization` header intact, so it is no token of ours."""
    return 0 < len(secret) <= MAX_VALUE_CHARS and all("!" <= c <= "~" for c in secret)


def check_value(value: str) -> str:
    """A token value an admin gives, unchanged when usable; InvalidInput saying why
    not. The message never repeats the value: it is a secret."""
    if not value:
        raise InvalidInput("Bad token value: it is empty")
    if len(value) > MAX_VALUE_CHARS:
        raise InvalidInput(f"Bad token value: it is longer than {MAX_VALUE_CHARS} characters")
    if not _plausible(value):
        raise InvalidInput(
            "Bad token value: use visible ASCII characters only, "
            "no spaces, tabs, line breaks or control characters"
        )
    if value.startswith(PREFIX):
        raise InvalidInput(
            f"Bad token value: values starting with {PREFIX!r} are generated by synchub; "
            "omit the value to get one"
        )
    return value


def _hint(secret: str, *, given: bool) -> str:
    """The first characters of a secret, to tell tokens apart in a list. A given value
    shows at most a quarter of itself (and 4 characters): it may be short."""
    if not given:
        return secret[: len(PREFIX) + 4]
    return secret[: min(4, len(secret) // 4)]


class TokenService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def create(
        self,
        name: str,
        role: str,
        *,
        expires: str | None = None,
        value: str | None = None,
        scope: str | None = None,
    ) -> tuple[str, TokenView]:
        """A new token: (its secret, shown only now; its view). AlreadyExists while a
        live token has this name or this value; InvalidInput for a bad name, role,
        expiry, value (see `check_value`) or scope (one of `Scope`, or None).

        `value`: the secret to use instead of a generated one. `scope`: where the
        token may be used; None for everywhere."""
        check_name(name, what="token")
        chosen = _role(role)
        limited_to = _scope(scope)
        given = value is not None
        if value is not None:
            check_value(value)
        now = self.svc.clock.now()
        expires_at = None
        if expires:
            lifetime = parse_duration(expires, what="expiry")
            if lifetime > MAX_LIFETIME_S:
                raise InvalidInput(f"Bad expiry {expires!r}: it must be at most 10 years")
            expires_at = now + timedelta(seconds=lifetime)
        secret = value if value is not None else PREFIX + secrets.token_urlsafe(32)
        digest = digest_of(secret)
        try:
            with transaction(self.svc.sessions) as session:
                if store.live_by_name(session, name) is not None:
                    raise AlreadyExists(f"A token named {name!r} already exists: revoke it first")
                if given:
                    holder = store.by_digest(session, digest)
                    if holder is not None and holder.revoked_at is None:
                        raise AlreadyExists(
                            f"The token {holder.name!r} already has this value: revoke it first"
                        )
                    # A revoked token keeps its row for the record, not its value:
                    # the admin may give the console's fixed value again.
                    store.forget_revoked_digest(session, digest, replacement=_unusable_digest())
                row = TokenRow(
                    name=name,
                    role=chosen.value,
                    digest=digest,
                    hint=_hint(secret, given=given),
                    created_at=now,
                    created_by=self.svc.actor,
                    expires_at=expires_at,
                    scope=limited_to.value if limited_to else None,
                )
                session.add(row)
                session.flush()
                view = token_view(row, now)
                self.svc.audit_event(session, "token.create", name, at=now, after=view.as_dict())
        except IntegrityError:
            # Another process created a live token of this name (or value) between
            # check and insert.
            raise AlreadyExists(
                f"A token named {name!r} or with this value already exists: revoke it first"
            ) from None
        return secret, view

    def create_first_admin(self) -> str | None:
        """An admin token's secret when no live token exists yet, else None."""
        with transaction(self.svc.sessions) as session:
            if store.listing(session):
                return None
        try:
            secret, _view = self.create(FIRST_ADMIN, Role.ADMIN.value)
        except AlreadyExists:
            return None  # a concurrent `synchub init` made it
        return secret

    def list(self, *, include_revoked: bool = False) -> builtins.list[TokenView]:
        """Every token, without its secret or digest."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            return [
                token_view(r, now) for r in store.listing(session, include_revoked=include_revoked)
            ]

    def revoke(self, name: str) -> TokenView:
        """Revoke the live token called `name`; its requests fail from now on."""
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            row = store.live_by_name(session, name)
            if row is None:
                raise TokenNotFound(f"No live token named {name!r}")
            before = token_view(row, now)
            if not store.revoke(session, row.id, now=now):
                raise TokenNotFound(f"No live token named {name!r}")
            session.refresh(row)
            view = token_view(row, now)
            self.svc.audit_event(
                session, "token.revoke", name, at=now, before=before.as_dict(), after=view.as_dict()
            )
        return view

    def authenticate(self, secret: str | None) -> Principal:
        """The principal of a live, unexpired token; Unauthenticated otherwise.
        The caller checks its scope against the path (`check_scope`)."""
        if not secret or not _plausible(secret):
            raise Unauthenticated()
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            row = store.by_digest(session, digest_of(secret))
            if row is None or row.revoked_at is not None:
                raise Unauthenticated("The token is unknown or revoked")
            if row.expires_at is not None and row.expires_at <= now:
                raise Unauthenticated(f"The token {row.name!r} has expired")
            principal = Principal(row.name, Role(row.role), _stored_scope(row.scope))
            stale = row.last_used_at is None or row.last_used_at < now - TOUCH_EVERY
        if stale:  # a write at most once a minute per token, not one per request
            TOUCHES.ask(self.svc.sessions, self.svc.db, row.id, now)
        return principal

    @staticmethod
    def check_scope(principal: Principal, path: str) -> None:
        """Forbidden when the principal's token is limited to paths other than `path`."""
        scope = principal.scope
        if scope is not None and not scope.allows(path):
            raise Forbidden(f"this token is limited to {scope.prefix}")

    @staticmethod
    def authorize(principal: Principal, needed: Role) -> None:
        """Forbidden unless the principal's role allows what `needed` may do."""
        if not principal.role.allows(needed):
            raise Forbidden(
                f"Token {principal.name!r} has role {principal.role.value}; "
                f"this needs {needed.value} or higher"
            )


class Touches:
    """Tokens' `last_used_at`, written by a thread of their own, not by the request
    that found it stale: on SQLite that write queues for the database's write lock
    behind the scheduler's and the runners' transactions, and beside a busy writer
    SQLite's busy handler (which sleeps, and is not fair) made it wait from 80 ms to
    3 s. Every request that saw the token stale meanwhile waited with it;
    now each process asks for a token's write once per TOUCH_EVERY, and no request
    waits for it. A write that fails is logged and tried again a minute later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: database -> token id -> when (the services' clock) its write was last asked for
        self._asked: weakref.WeakKeyDictionary[Engine, dict[int, datetime]] = (
            weakref.WeakKeyDictionary()
        )
        self._queue: queue.Queue[tuple[sessionmaker[Session], int, datetime]] = queue.Queue()
        self._thread: threading.Thread | None = None

    def ask(self, sessions: sessionmaker[Session], database: Engine, token_id: int,
            now: datetime) -> None:  # fmt: skip
        """Record a use of `token_id` at `now`, soon, unless this process already
        asked to in the last TOUCH_EVERY."""
        with self._lock:
            asked = self._asked.setdefault(database, {})
            last = asked.get(token_id)
            if last is not None and last <= now < last + TOUCH_EVERY:
                return
            asked[token_id] = now
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="synchub-token-touch", daemon=True
                )
                self._thread.start()
        self._queue.put((sessions, token_id, now))

    def wait(self) -> None:
        """Until every use asked for so far is written (or failed)."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            sessions, token_id, now = self._queue.get()
            try:
                with transaction(sessions) as session:
                    store.touch(session, token_id, now=now, every_s=TOUCH_EVERY.total_seconds())
            except Exception as exc:  # a database gone, locked or full: the next minute's try
                kind = fault(exc)  # a passing fault needs no traceback; anything else does
                log.warning(
                    "could not record a use of token %s%s",
                    token_id,
                    f" ({kind})" if kind else "",
                    exc_info=kind is None,
                )
            finally:
                self._queue.task_done()


#: This process's writer of tokens' last use.
TOUCHES = Touches()


def token_view(row: TokenRow, now: datetime) -> TokenView:
    state: Literal["active", "expired", "revoked"]
    if row.revoked_at is not None:
        state = "revoked"
    elif row.expires_at is not None and row.expires_at <= now:
        state = "expired"
    else:
        state = "active"
    return TokenView(
        name=row.name,
        role=row.role,
        scope=row.scope,
        state=state,
        hint=row.hint + "…",
        # Given values may not start with PREFIX, so the hint tells them apart.
        given=not row.hint.startswith(PREFIX),
        created_at=row.created_at.isoformat(),
        created_by=row.created_by,
        expires_at=iso(row.expires_at),
        last_used_at=iso(row.last_used_at),
        revoked_at=iso(row.revoked_at),
    )


def _stored_scope(value: str | None) -> Scope | None:
    """The scope of a row. One this version does not know (written by a newer one)
    allows nothing here rather than everything."""
    if value is None:
        return None
    try:
        return Scope(value)
    except ValueError:
        raise Unauthenticated(f"The token's scope {value!r} is unknown to this server") from None


def _unusable_digest() -> str:
    """A digest no secret is known to have: what a revoked token keeps instead of the
    digest of a value that is given again."""
    return hashlib.sha256(b"revoked:" + secrets.token_bytes(32)).hexdigest()
