"""The `synchub` command: its command groups put together, and `main`, which checks
the arguments and turns every usage error into one line and an exit code."""

from __future__ import annotations

import atexit
import gc
import sys
from collections.abc import Callable

import typer

from synchub.cli import (
    alerts,
    config,
    cron,
    doctor,
    init,
    jobs,
    procs,
    remotes,
    runs,
    secrets,
    tasks,
    tokens,
)
from synchub.cli.shared import err
from synchub.cli.typer_app import typer_app
from synchub.core.errors import InvalidInput
from synchub.core.text import check_text

#: In this order in `synchub --help`: the commands, then the groups.
COMMANDS: dict[str, Callable[..., None]] = {
    "doctor": doctor.doctor,
    "export": config.export,
    "apply": config.apply,
    "init": init.init,
    "serve": procs.serve,
    "scheduler": procs.scheduler_cmd,
    "worker": procs.worker_cmd,
    "cron": cron.cron,
}
GROUPS: dict[str, typer.Typer] = {
    "remote": remotes.remote_app,
    "job": jobs.job_app,
    "runs": runs.runs_app,
    "db": init.db_app,
    "config": config.config_app,
    "token": tokens.token_app,
    "task": tasks.task_app,
    "secrets": secrets.secrets_app,
    "alert": alerts.alert_app,
}


def made(group: str | None = None) -> typer.Typer:
    """The `synchub` command, or the same with only `group`: typer makes the click
    command of every command it holds before it parses (signatures, type hints),
    ≈ 40 ms for all of them."""
    made = typer_app(
        add_completion=False,
        pretty_exceptions_enable=False,
        help="synchub: schedule and run rclone sync and backup jobs.",
    )
    if group is None:
        for name, command in COMMANDS.items():
            made.command(name)(command)
    for name, sub in GROUPS.items():
        if group in (None, name):
            made.add_typer(sub, name=name)
    return made


app = made()

#: Options whose values may span lines: a command job's argv items and env values,
#: the multi-line fields of the text rule (synchub/core/text.py).
MULTILINE_OPTIONS = frozenset({"--arg", "--env"})


def check_argv(argv: list[str]) -> None:
    """InvalidText for the first argument that breaks the text rule (core/text.py).
    Bytes that are not UTF-8 reach Python as lone surrogates, and are refused too."""
    previous = ""
    for number, arg in enumerate(argv, 1):
        option, attached, _ = arg.partition("=")
        multiline = previous in MULTILINE_OPTIONS or (
            bool(attached) and option in MULTILINE_OPTIONS
        )
        after = f" (after {previous})" if previous.startswith("-") else ""
        check_text(arg, f"argument {number}{after}", multiline=multiline)
        previous = arg


def main() -> None:
    # Freezing the heap at exit spares the interpreter's final collection walking
    # every imported module's objects: ~0.3 s of every command's run time.
    atexit.register(gc.freeze)
    # Whatever else prints (click's usage errors) cannot fail on a lone surrogate.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        check_argv(sys.argv[1:])
    except InvalidInput as exc:
        err.print(f"error: {exc.message}", markup=False)
        raise SystemExit(2) from None
    raise SystemExit(run_app())


def run_app() -> int:
    """Run the command; a usage error is one line on stderr and exit 2, as every
    other bad input is (click would draw a box of several lines)."""
    try:
        group = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in GROUPS else None
        code = (app if group is None else made(group))(standalone_mode=False)
    except Exception as exc:
        # click's exceptions, vendored by recent typer releases: known by their shape.
        name = type(exc).__name__
        if name == "Abort":
            err.print("error: aborted", markup=False)
            return 1
        exit_code = getattr(exc, "exit_code", None)
        if not hasattr(exc, "format_message") or not isinstance(exit_code, int):
            raise
        if name == "NoArgsIsHelpError":
            sys.stdout.write(exc.format_message())  # the help (rich printed it already)
            return 2
        ctx = getattr(exc, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        err.print(f"error: {' '.join(exc.format_message().split())}{hint}", markup=False)
        return exit_code
    return code if isinstance(code, int) else 0
