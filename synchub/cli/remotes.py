"""`synchub remote`: where files live (rclone remotes, secrets sealed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from synchub.cli import tables
from synchub.cli.shared import JsonOpt, emit, fail, out, parse_pairs, services
from synchub.cli.typer_app import typer_app
from synchub.core.text import check_text

remote_app = typer_app(help="Remotes: where files live.")


@remote_app.command("add")
def remote_add(
    name: str,
    type_: Annotated[
        str, typer.Argument(metavar="TYPE", help="rclone backend: local, sftp, s3, …")
    ],
    options: Annotated[
        list[str] | None, typer.Argument(help="key=value; value '-' reads it from stdin")
    ] = None,
    max_concurrency: Annotated[int | None, typer.Option(help="Runs using it at once.")] = None,
) -> None:
    """Add a remote. Secret options are encrypted; give one as key=- to keep it out of argv."""
    with services() as svc:
        values = option_values(options)
        view = svc.remotes.add(name, type_, values, max_concurrency=max_concurrency)
        out.print(f"added remote [bold]{view.name}[/] ({view.type})")


def option_values(options: list[str] | None) -> dict[str, str]:
    """key=value pairs; a value '-' is read from stdin (hidden at a terminal)."""
    values = parse_pairs(options or [], "option")
    for key, value in values.items():
        if value == "-":
            values[key] = check_text(
                typer.prompt(key, hide_input=True)
                if sys.stdin.isatty()
                else sys.stdin.readline().rstrip("\n"),
                f"the value of {key} read from stdin",
            )
    return values


@remote_app.command("edit")
def remote_edit(
    name: str,
    options: Annotated[
        list[str] | None, typer.Argument(help="key=value; value '-' reads it from stdin")
    ] = None,
    unset: Annotated[
        list[str] | None, typer.Option("--unset", help="Remove this option (repeat).")
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option(help="Runs using it at once; 0 removes the limit.")
    ] = None,
) -> None:
    """Change a remote: key=value sets an option, --unset removes one, the rest stays.
    When its secrets cannot be read (a lost or wrong key), give every secret option
    again: they replace the unreadable ones."""
    with services() as svc:
        changes: dict[str, str | None] = {**option_values(options)}
        changes.update(dict.fromkeys(unset or []))
        edited = svc.remotes.change(name, changes, max_concurrency=max_concurrency)
        if not edited.changed:
            out.print(f"nothing to change: remote [bold]{name}[/] is already so")
            return
        out.print(f"changed remote [bold]{name}[/] ({', '.join(edited.changed)})")


@remote_app.command("list")
def remote_list(as_json: JsonOpt = False) -> None:
    """List remotes."""
    with services() as svc:
        views = svc.remotes.list()
        now = svc.clock.now()
    if as_json:
        emit([v.as_dict() for v in views])
        return
    rows = []
    for v in views:
        options = [f"{k}={x}" for k, x in v.options.items()]
        if v.unreadable:
            options.append(f"<unreadable: {v.unreadable}>")
        limit = str(v.max_concurrency or "-")
        rows.append([v.name, v.type, " ".join(options), limit, ", ".join(v.used_by)])
    tables.print_table(REMOTE_COLUMNS, rows, tables.stdout_layout(now))


REMOTE_COLUMNS = (
    tables.Column("name", tables.Fit.END),
    tables.Column("type"),
    tables.Column("options", tables.Fit.END, least=16),
    tables.Column("limit"),
    tables.Column("used by", tables.Fit.END),
)


@remote_app.command("show")
def remote_show(name: str, as_json: JsonOpt = False) -> None:
    """Show a remote, secrets masked."""
    with services() as svc:
        view = svc.remotes.show(name)
        if as_json:
            emit(view.as_dict())
            return
        for key, value in view.as_dict().items():
            if key != "unreadable":
                out.print(f"{key}: {value}", markup=False)
        if view.unreadable:
            out.print(f"secrets: <unreadable: {view.unreadable}>", markup=False)


@remote_app.command("test")
def remote_test(name: str) -> None:
    """Check the remote answers: list its root with a short timeout."""
    with services() as svc:
        ok, message = svc.remotes.test(name)
    if not ok:
        fail(f"remote {name} is not reachable: {message}", 1)
    out.print(f"remote [bold]{name}[/] is reachable: {message}")


@remote_app.command("remove")
def remote_remove(name: str) -> None:
    """Remove a remote that no job and no other remote (alias, crypt, union …) uses."""
    with services() as svc:
        svc.remotes.remove(name)
        out.print(f"removed remote [bold]{name}[/]")


@remote_app.command("import")
def remote_import(
    path: Annotated[Path | None, typer.Argument(help="Default: rclone's own config file.")] = None,
    on_conflict: Annotated[
        str,
        typer.Option(
            "--on-conflict",
            help="A name already taken: fail (import nothing), skip it, or replace it",
            metavar="fail|skip|replace",
        ),
    ] = "fail",
) -> None:
    """Import the remotes of an existing rclone.conf (all or nothing)."""
    with services() as svc:
        done = svc.remotes.import_conf(path, on_conflict)
        for verb, names in (
            ("imported", [v.name for v in done.added]),
            ("replaced", [v.name for v in done.replaced]),
            ("skipped (already there)", done.skipped),
        ):
            if names or verb == "imported":
                listed = f": {', '.join(names)}" if names else ""
                out.print(f"{verb} {len(names)} remote(s){listed}", markup=False)
