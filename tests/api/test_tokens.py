"""API tokens: shown once, stored as a digest, listed without secrets, revoked,
expired, and every change audited with its actor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from synchub.core.clock import FakeClock
from synchub.core.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    TokenNotFound,
    Unauthenticated,
)
from synchub.services import Services
from synchub.services.tokens import TOUCHES, Role, TokenService
from synchub.store import audit
from synchub.store.db import transaction
from synchub.store.tables import TokenRow
from tests.support.statements import updates_of


def test_a_token_is_shown_once_and_only_its_digest_is_stored(svc: Services) -> None:
    secret, view = svc.tokens.create("ci", "operator")
    assert secret.startswith("shub_") and len(secret) >= 45
    with transaction(svc.sessions) as session:
        row = session.scalars(select(TokenRow)).one()
    # It should keep a SHA-256 of the secret, never the secret itself.
    assert secret not in (row.digest, row.hint)
    assert len(row.digest) == 64
    assert secret not in json.dumps(view.as_dict())
    assert secret not in json.dumps([t.as_dict() for t in svc.tokens.list()])
    assert svc.tokens.authenticate(secret).name == "ci"
    assert svc.tokens.authenticate(secret).role is Role.OPERATOR


def test_a_use_is_recorded_once_off_the_request_path(svc: Services, clock: FakeClock) -> None:
    # On SQLite the write waits for the database's write lock (seconds beside a busy
    # writer): no request waits for it, and many requests that see the token stale at
    # once ask for one write, not one each.
    secret, _view = svc.tokens.create("console", "viewer")
    with updates_of(svc.db, "api_tokens", thread="synchub-token-touch") as writes:
        for _ in range(5):
            assert svc.tokens.authenticate(secret).name == "console"
        TOUCHES.wait()
    assert len(writes) == 1
    with transaction(svc.sessions) as session:
        row = session.scalars(select(TokenRow).where(TokenRow.name == "console")).one()
    assert row.last_used_at is not None
    assert row.last_used_at.replace(tzinfo=None) == clock.now().replace(tzinfo=None)


def test_two_tokens_never_share_a_secret(svc: Services) -> None:
    secrets = {svc.tokens.create(f"t{i}", "viewer")[0] for i in range(20)}
    assert len(secrets) == 20


def test_a_missing_or_unknown_token_is_refused(svc: Services) -> None:
    for token, message in (
        (None, "Bearer"),  # no header at all
        ("", "Bearer"),
        ("shub_notarealtoken", "unknown"),
        ("Basic dXNlcjpwYXNz", "Bearer"),  # not one of ours
    ):
        with pytest.raises(Unauthenticated, match=message):
            svc.tokens.authenticate(token)


def test_a_token_expires_on_time(svc: Services, clock: FakeClock) -> None:
    secret, view = svc.tokens.create("temp", "viewer", expires="1h")
    assert view.expires_at == "2025-06-02T10:00:00+00:00"
    clock.advance(3599)
    assert svc.tokens.authenticate(secret).name == "temp"
    clock.advance(1)
    with pytest.raises(Unauthenticated, match="expired"):
        svc.tokens.authenticate(secret)
    assert svc.tokens.list()[0].state == "expired"


def test_a_revoked_token_is_refused_and_its_name_can_be_used_again(svc: Services) -> None:
    old, _ = svc.tokens.create("ci", "admin")
    with pytest.raises(AlreadyExists, match="revoke it first"):
        svc.tokens.create("ci", "viewer")
    assert svc.tokens.revoke("ci").state == "revoked"
    with pytest.raises(Unauthenticated):
        svc.tokens.authenticate(old)
    with pytest.raises(TokenNotFound):
        svc.tokens.revoke("ci")
    new, _ = svc.tokens.create("ci", "viewer")
    assert svc.tokens.authenticate(new).role is Role.VIEWER
    assert [t.state for t in svc.tokens.list(include_revoked=True)] == ["revoked", "active"]
    assert [t.state for t in svc.tokens.list()] == ["active"]


def test_bad_token_input_is_refused_and_changes_nothing(svc: Services) -> None:
    for name, role, expires in (
        ("bad name", "viewer", None),  # a space
        ("ok", "root", None),  # no such role
        ("ok", "viewer", "soon"),  # not a duration
        ("ok", "viewer", "0s"),  # expired at birth
    ):
        with pytest.raises(InvalidInput):
            svc.tokens.create(name, role, expires=expires)
    assert svc.tokens.list(include_revoked=True) == []


def test_every_token_change_is_audited_with_its_actor_and_no_secret(svc: Services) -> None:
    secret, _ = svc.tokens.create("ci", "operator", expires="30d")
    svc.for_actor("admin-ada").tokens.revoke("ci")
    with transaction(svc.sessions) as session:
        revoke, create = audit.recent(session)
    assert (create.action, create.actor, create.target) == ("token.create", "alice", "ci")
    assert (revoke.action, revoke.actor) == ("token.revoke", "admin-ada")
    assert revoke.before is not None and revoke.before["state"] == "active"
    assert revoke.after is not None and revoke.after["state"] == "revoked"
    assert secret not in json.dumps([create.after, revoke.before, revoke.after])


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.VIEWER, Role.VIEWER, True),
        (Role.VIEWER, Role.OPERATOR, False),
        (Role.OPERATOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.ADMIN, False),
        (Role.ADMIN, Role.VIEWER, True),  # roles include the weaker ones
        (Role.ADMIN, Role.ADMIN, True),
    ],
)
def test_roles_are_ordered_viewer_operator_admin(role: Role, needed: Role, allowed: bool) -> None:
    from synchub.services.tokens import Principal

    if allowed:
        TokenService.authorize(Principal("p", role), needed)
    else:
        with pytest.raises(Forbidden, match=needed.value):
            TokenService.authorize(Principal("p", role), needed)


# -- the CLI ------------------------------------------------------------------


def test_init_prints_the_first_admin_token_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCHUB_", "DATABASE_URL"))}
    env["SYNCHUB_HOME"] = str(tmp_path / "home")

    def init() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "synchub", "init"], env=env, capture_output=True, text=True
        )

    first = init()
    assert first.returncode == 0, first.stderr
    # It should print the token on its own last line of stdout, and never again.
    admin = first.stdout.splitlines()[-1]
    assert admin.startswith("shub_") and "shown only now" in first.stderr
    assert "sign in to the console at http://127.0.0.1:8080/ with it" in first.stderr
    again = init()
    assert again.returncode == 0 and "shub_" not in again.stdout + again.stderr


def test_the_cli_creates_lists_and_revokes_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from synchub.cli import app

    monkeypatch.setenv("SYNCHUB_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SYNCHUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()

    def synchub(*args: str) -> Any:
        return runner.invoke(app, list(args))

    assert synchub("init").exit_code == 0
    made = synchub("token", "create", "ci", "--role", "operator", "--expires", "30d")
    assert made.exit_code == 0, made.stderr
    # It should print the secret alone on stdout, for `TOKEN=$(synchub token create …)`.
    secret = made.stdout
    assert secret.startswith("shub_") and secret.endswith("\n") and secret.count("\n") == 1
    assert "shown only now" in made.stderr

    listed = synchub("token", "list", "--json")
    tokens = json.loads(listed.stdout)
    assert [(t["name"], t["role"], t["state"]) for t in tokens] == [
        ("admin", "admin", "active"),
        ("ci", "operator", "active"),
    ]
    assert secret.strip() not in listed.stdout
    assert "ci" in synchub("token", "list").stdout

    assert synchub("token", "create", "ci").exit_code == 2  # the name is taken
    assert synchub("token", "create", "x", "--role", "root").exit_code == 2
    assert synchub("token", "revoke", "ci").exit_code == 0
    assert synchub("token", "revoke", "ci").exit_code == 3  # nothing live to revoke
    remaining = json.loads(synchub("token", "list", "--json", "--all").stdout)
    assert [(t["name"], t["state"]) for t in remaining] == [("admin", "active"), ("ci", "revoked")]
