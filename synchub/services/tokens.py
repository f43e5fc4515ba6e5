"""API tokens and roles: create (the secret is shown once), list, revoke, authenticate.

A token is `shub_` followed by 256 random bits (URL-safe base64). Only its SHA-256
digest is stored. A fast hash is the right tool here, and argon2 is not: argon2 makes
guessing a *low-entropy* password expensive, but nobody can enumerate 2**256 secrets
however cheap each guess is, so the slow hash would only add tens of milliseconds
and a memory spike to every API request. Lookup is by digest through a unique index,
so no secret is ever compared byte by byte.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from synchub.core.durations import parse_duration
from synchub.core.errors import AlreadyExists, InvalidInput, NotFound, SynchubError
from synchub.core.names import check_name
from synchub.store import audit
from synchub.store import tokens as store
from synchub.store.db import reading, transaction
from synchub.store.tables import TokenRow

if TYPE_CHECKING:
    from synchub.services.context import Services

PREFIX = "shub_"
#: How often a token's `last_used_at` is written at most.
TOUCH_EVERY = timedelta(seconds=60)
#: The longest lifetime a token may be given (omit --expires for one that never ends).
MAX_LIFETIME_S = 10 * 365 * 86400
#: The name `synchub init` gives the first admin token.
FIRST_ADMIN = "admin"


class Role(StrEnum):
    VIEWER = "viewer"  #: reads everything except secrets
    OPERATOR = "operator"  #: also runs, cancels and retries runs, enables and disables jobs
    ADMIN = "admin"  #: also changes configuration (remotes, jobs) and tokens

    def allows(self, needed: Role) -> bool:
        """True when this role may do what `needed` may: viewer < operator < admin."""
        return _RANK[self] >= _RANK[needed]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class TokenNotFound(NotFound):
    """No live token with this name."""


class Unauthenticated(SynchubError):
    """A valid API token is needed: send `Authorization: Bearer <token>`."""


class Forbidden(SynchubError):
    """This token's role does not allow that."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a token's name (the audit's actor) and its role."""

    name: str
    role: Role


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"Bad role {value!r}: use one of {allowed}") from None


class TokenService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def create(
        self, name: str, role: str, *, expires: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A new token: (its secret, shown only now; its view). AlreadyExists while a
        live token has this name; InvalidInput for a bad name, role or expiry."""
        check_name(name, what="token")
        chosen = _role(role)
        now = self.svc.clock.now()
        expires_at = None
        if expires:
            lifetime = parse_duration(expires, what="expiry")
            if lifetime > MAX_LIFETIME_S:
                raise InvalidInput(f"Bad expiry {expires!r}: it must be at most 10 years")
            expires_at = now + timedelta(seconds=lifetime)
        secret = PREFIX + secrets.token_urlsafe(32)
        try:
            with transaction(self.svc.sessions) as session:
                if store.live_by_name(session, name) is not None:
                    raise AlreadyExists(f"A token named {name!r} already exists: revoke it first")
                row = TokenRow(
                    name=name,
                    role=chosen.value,
                    digest=digest_of(secret),
                    hint=secret[: len(PREFIX) + 4],
                    created_at=now,
                    created_by=self.svc.actor,
                    expires_at=expires_at,
                )
                session.add(row)
                session.flush()
                view = token_view(row, now)
                audit.record(
                    session,
                    at=now,
                    actor=self.svc.actor,
                    action="token.create",
                    target_type="token",
                    target=name,
                    after=view,
                )
        except IntegrityError:
            # Another process created a live token of this name between check and insert.
            raise AlreadyExists(f"A token named {name!r} already exists: revoke it first") from None
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

    def list(self, *, include_revoked: bool = False) -> builtins.list[dict[str, Any]]:
        """Every token, without its secret or digest."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            return [
                token_view(r, now) for r in store.listing(session, include_revoked=include_revoked)
            ]

    def revoke(self, name: str) -> dict[str, Any]:
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
            audit.record(
                session,
                at=now,
                actor=self.svc.actor,
                action="token.revoke",
                target_type="token",
                target=name,
                before=before,
                after=view,
            )
        return view

    def authenticate(self, secret: str | None) -> Principal:
        """The principal of a live, unexpired token; Unauthenticated otherwise."""
        if not secret or not secret.startswith(PREFIX):
            raise Unauthenticated()
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            row = store.by_digest(session, digest_of(secret))
            if row is None or row.revoked_at is not None:
                raise Unauthenticated("The token is unknown or revoked")
            if row.expires_at is not None and row.expires_at <= now:
                raise Unauthenticated(f"The token {row.name!r} has expired")
            principal = Principal(row.name, Role(row.role))
            stale = row.last_used_at is None or row.last_used_at < now - TOUCH_EVERY
        if stale:  # a write at most once a minute per token, not one per request
            with transaction(self.svc.sessions) as session:
                store.touch(session, row.id, now=now, every_s=TOUCH_EVERY.total_seconds())
        return principal

    @staticmethod
    def authorize(principal: Principal, needed: Role) -> None:
        """Forbidden unless the principal's role allows what `needed` may do."""
        if not principal.role.allows(needed):
            raise Forbidden(
                f"Token {principal.name!r} has role {principal.role.value}; "
                f"this needs {needed.value} or higher"
            )


def token_view(row: TokenRow, now: datetime) -> dict[str, Any]:
    if row.revoked_at is not None:
        state = "revoked"
    elif row.expires_at is not None and row.expires_at <= now:
        state = "expired"
    else:
        state = "active"
    return {
        "name": row.name,
        "role": row.role,
        "state": state,
        "hint": row.hint + "…",
        "created_at": _iso(row.created_at),
        "created_by": row.created_by,
        "expires_at": _iso(row.expires_at),
        "last_used_at": _iso(row.last_used_at),
        "revoked_at": _iso(row.revoked_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
