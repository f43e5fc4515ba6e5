"""`synchub doctor`: every check of the installation, one line each with what to do."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from synchub.cli.shared import JsonOpt, emit, out, services

if TYPE_CHECKING:  # the command's imports wait until it runs: `synchub --help` stays fast
    from synchub.config import Settings
    from synchub.execution.executor import WorkerInfo


def doctor(
    remotes: Annotated[
        bool, typer.Option("--remotes", help="Also test that each remote answers (slower).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check this installation: rclone, the data directory and disk, the database and
    its schema, the secret key, clocks, the scheduler, the broker and workers, remotes
    and watched folders. Exit 0 when all is well, 1 when something needs a person."""
    from synchub.services.doctor import Level, healthy

    with services(schema=False) as svc:
        workers = None
        if svc.settings.executor == "celery":
            workers = _celery_workers(svc.settings)
        findings = svc.doctor.examine(workers=workers, remotes=remotes)
    if as_json:
        emit({"healthy": healthy(findings), "checks": [f.as_dict() for f in findings]})
    else:
        marks = {Level.OK: "[green]ok[/]     ", Level.NOTE: "[blue]note[/]   ",
                 Level.PROBLEM: "[red]PROBLEM[/]"}  # fmt: skip
        for f in findings:
            out.print(f"{marks[f.level]} {f.check}: ", end="")
            out.print(f.message, markup=False)
            if f.fix:
                out.print(f"          → {f.fix}", markup=False)
        problems = sum(f.level is Level.PROBLEM for f in findings)
        out.print("all is well" if not problems else f"{problems} problem(s) need a person")
    if not healthy(findings):
        raise typer.Exit(1)


def _celery_workers(settings: Settings) -> Callable[[], list[WorkerInfo]]:
    from synchub.execution.celery_exec import CeleryExecutor
    from synchub.processes.worker import make_app

    def describe() -> list[WorkerInfo]:
        app = make_app(settings)
        try:
            return CeleryExecutor(app).describe(timeout_s=2.0)
        finally:
            app.close()

    return describe
