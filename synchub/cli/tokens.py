"""`synchub token`: API tokens. A secret is printed once, alone on stdout."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from synchub.cli import tables
from synchub.cli.shared import JsonOpt, emit, err, out, services
from synchub.cli.typer_app import typer_app

token_app = typer_app(help="API tokens: who may use the REST API.")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Shown as the actor in the audit log.")],
    role: Annotated[
        str,
        typer.Option("--role", help="viewer (reads), operator (also runs), admin (everything)"),
    ] = "viewer",
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime, e.g. 30d or 12h; default never")
    ] = None,
    value: Annotated[
        str | None,
        typer.Option(
            "--value",
            help="Use this secret instead of a generated one, for a client with a fixed "
            "token; '-' reads it from stdin (kept out of the shell history). Weaker: "
            "limit it with --scope.",
        ),
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option(
            "--scope",
            help="Where the token may be used: compat-rsh (only under /compat/rsh); "
            "default everywhere",
        ),
    ] = None,
) -> None:
    """Create a token and print it once, alone on stdout, for scripts to capture.
    With --value nothing is printed on stdout: you know the secret already."""
    from synchub.services.tokens import Scope

    if value == "-":
        value = sys.stdin.readline().rstrip("\r\n")
    with services() as svc:
        secret, view = svc.tokens.create(name, role, expires=expires, value=value, scope=scope)
    until = f", expires {view.expires_at}" if view.expires_at else ""
    where = f", only under {Scope(view.scope).prefix}" if view.scope else ""
    if value is None:
        sys.stdout.write(secret + "\n")
        err.print(
            f"created token [bold]{name}[/] ({view.role}{where}{until}); "
            "it is shown only now: keep it safe"
        )
        return
    err.print(f"created token [bold]{name}[/] ({view.role}{where}{until}) with the given value")
    err.print(
        "warning: a value you chose is weaker than a generated one: anyone who knows it "
        "(a client's built-in value is public) and can reach the server gets in"
        + ("" if view.scope else "; consider --scope to limit where it works"),
        markup=False,
    )


@token_app.command("list")
def token_list(
    as_json: JsonOpt = False,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked tokens")] = False,
) -> None:
    """List tokens: name, role, scope, state, when used. Never the secret."""
    with services() as svc:
        views = svc.tokens.list(include_revoked=include_revoked)
        now = svc.clock.now()
    if as_json:
        emit([v.as_dict() for v in views])
        return
    layout = tables.stdout_layout(now)
    rows = [
        [
            v.name,
            v.role,
            v.scope or "all",
            v.state,
            v.hint + (" (given)" if v.given else ""),
            layout.when(v.created_at),
            layout.when(v.expires_at, none="never"),
            layout.when(v.last_used_at),
        ]
        for v in views
    ]
    tables.print_table(TOKEN_COLUMNS, rows, layout)


TOKEN_COLUMNS = (
    tables.Column("name", tables.Fit.END),
    tables.Column("role"),
    tables.Column("scope", tables.Fit.END, least=6),
    tables.Column("state"),
    tables.Column("token", tables.Fit.END),
    tables.Column("created"),
    tables.Column("expires"),
    tables.Column("last used"),
)


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    """Revoke a token: its requests are refused from now on."""
    with services() as svc:
        svc.tokens.revoke(name)
    out.print(f"revoked token [bold]{name}[/]")
