"""`synchub config show`: the settings; `synchub export` and `synchub apply`: the
configuration as a file (docs/config-as-code.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synchub.cli.shared import JsonOpt, emit, err, fail, out, services
from synchub.cli.typer_app import typer_app
from synchub.core.errors import SynchubError

if TYPE_CHECKING:
    from synchub.config import Explained, Settings
    from synchub.services.config_apply import Applied, FieldChange

config_app = typer_app(help="Settings.")

_SYMBOL = {"create": "+", "change": "~", "remove": "-"}


@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Print every setting's effective value, secrets masked, and where it comes
    from: default, file (synchub.toml) or env (the variable named)."""
    with services(schema=False) as svc:
        found = svc.settings.explained()
        found["rclone"] = rclone_explained(svc.settings, found["rclone"])
        if as_json:
            emit({name: vars(e) for name, e in found.items()})
            return
        for name, e in found.items():
            value = e.value if isinstance(e.value, str) else json.dumps(e.value)
            where = "default" if e.origin is None else f"from {e.origin}"
            shown = "(none)" if e.value in ("", [], {}) else value
            out.print(f"{name} = {shown}  # {where}", markup=False)


def rclone_explained(settings: Settings, found: Explained) -> Explained:
    """The rclone setting, with the binary the default finds."""
    from dataclasses import replace

    from synchub.engines.rclone.backends import rclone_binary

    if settings.rclone:
        return found
    try:
        return replace(found, value=rclone_binary())
    except SynchubError as exc:
        return replace(found, value=f"(none found: {exc.message})")


def export(
    remotes: Annotated[bool, typer.Option("--remotes", help="Write the remotes.")] = False,
    jobs: Annotated[bool, typer.Option("--jobs", help="Write the jobs.")] = False,
    alerts: Annotated[bool, typer.Option("--alerts", help="Write the alerts.")] = False,
    keep_secrets: Annotated[
        bool,
        typer.Option(
            "--keep-secrets",
            help="Write each secret as ${NAME:-keep}: apply keeps the stored value when "
            "NAME is not set.",
        ),
    ] = False,
    schema: Annotated[
        bool, typer.Option("--schema", help="Print the file's JSON Schema instead.")
    ] = False,
) -> None:
    """Print the configuration (remotes, jobs, alerts; all three without a choice) as a
    YAML file for `synchub apply`. Secrets are never written: each is a reference to an
    environment variable, ${SYNCHUB_SECRET_<REMOTE>_<OPTION>}."""
    from synchub.services.config_file import SECTIONS, json_schema

    if schema:
        sys.stdout.write(json_schema())
        return
    chosen = [s for s, on in zip(SECTIONS, (remotes, jobs, alerts), strict=True) if on]
    with services() as svc:
        exported = svc.config.export(chosen or SECTIONS, keep=keep_secrets)
    for warning in exported.warnings:
        err.print(f"warning: {warning}", markup=False)
    sys.stdout.write(exported.text)


def apply(
    file: Annotated[str, typer.Argument(help="The YAML (or JSON) file; - reads stdin.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; change nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Also remove the remotes, jobs and alerts the file's sections do not name "
            "(jobs keep their run history).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Make synchub's configuration what FILE says, in one transaction: every problem
    is named with its line and then nothing changes. Prints the plan (+ create,
    ~ change, - remove, field by field). Secrets come from the environment variables
    the file names."""
    text = _read(file)
    with services() as svc:
        applied = svc.config.apply(
            text, dry_run=dry_run, prune=prune, source="stdin" if file == "-" else file
        )
    if as_json:
        emit(applied.as_dict())
        return
    for step in applied.plan:
        out.print(f"{_SYMBOL[step.action]} {step.kind} {step.name}", markup=False)
        for change in step.changes:
            out.print(f"    {_change(step.action, change)}", markup=False)
    out.print(_summary(applied), markup=False)


def _read(file: str) -> str:
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", 2)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{file} is not UTF-8 text (byte {exc.start})", 2)


def _change(action: str, change: FieldChange) -> str:
    after = _shown(change.after)
    if action == "create":
        return f"{change.field}: {after}"
    return f"{change.field}: {_shown(change.before)} → {after}"


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str) and value.startswith("(secret"):
        return value
    return json.dumps(value, ensure_ascii=False)


def _summary(applied: Applied) -> str:
    if not applied.plan:
        return "nothing to change: synchub already matches the file"
    create, change, remove = (applied.count(a) for a in ("create", "change", "remove"))
    if applied.dry_run:
        return (
            f"dry run: {create} to create, {change} to change, {remove} to remove; "
            "nothing was changed"
        )
    return (
        f"applied: {create} created, {change} changed, {remove} removed "
        f"(file sha256 {applied.sha256})"
    )
