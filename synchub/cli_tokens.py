"""`synchub token`: API tokens. A secret is printed once, alone on stdout."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

token_app = typer.Typer(no_args_is_help=True, help="API tokens: who may use the REST API.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


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
) -> None:
    """Create a token and print it once, alone on stdout, for scripts to capture."""
    from synchub.cli import ensure_schema, err, services

    with services() as svc:
        ensure_schema(svc)
        secret, view = svc.tokens.create(name, role, expires=expires)
    sys.stdout.write(secret + "\n")
    until = f", expires {view['expires_at']}" if view["expires_at"] else ""
    err.print(
        f"created token [bold]{name}[/] ({view['role']}{until}); it is shown only now: keep it safe"
    )


@token_app.command("list")
def token_list(
    as_json: JsonOpt = False,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked tokens")] = False,
) -> None:
    """List tokens: name, role, state, when used. Never the secret."""
    from synchub.cli import emit, ensure_schema, out, services

    with services() as svc:
        ensure_schema(svc)
        views = svc.tokens.list(include_revoked=include_revoked)
    if as_json:
        emit(views)
        return
    table = Table("name", "role", "state", "token", "created", "expires", "last used")
    for v in views:
        table.add_row(
            v["name"],
            v["role"],
            v["state"],
            v["hint"],
            v["created_at"],
            v["expires_at"] or "never",
            v["last_used_at"] or "-",
        )
    out.print(table)


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    """Revoke a token: its requests are refused from now on."""
    from synchub.cli import ensure_schema, out, services

    with services() as svc:
        ensure_schema(svc)
        svc.tokens.revoke(name)
    out.print(f"revoked token [bold]{name}[/]")
