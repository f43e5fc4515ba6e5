"""`synchub serve`, `synchub scheduler` and `synchub worker`: the long-running
processes. The commands check their options here; `launch` starts them (imported
when one runs: it brings in the services, rich and the process assembly)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from synchub.cli.shared import err, seal_stored, services


def serve(
    host: Annotated[
        str, typer.Option(envvar="SYNCHUB_HOST", help="Address to bind.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SYNCHUB_PORT")] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            envvar="SYNCHUB_WORKERS", min=1, max=256, help="Runs at once in the local pool."
        ),
    ] = 4,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Run no scheduler here (API only).")
    ] = False,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="Run no local pool (celery executor).")
    ] = False,
) -> None:
    """Run the API, the scheduler and the local worker pool in one process (with
    SYNCHUB_EXECUTOR=celery, runs go to Celery workers instead of the pool)."""
    from synchub.cli import launch

    launch.setup_logging()
    with services() as svc:
        launch.check_at_start(svc, err.get())
        seal_stored(svc)
        launch.serve(
            svc,
            err.get(),
            host,
            port,
            workers=workers,
            scheduler=not no_scheduler,
            pool=not no_workers,
        )


def scheduler_cmd() -> None:
    """Run a scheduler alone (celery executor). Several may run: one leads, another
    takes over within SYNCHUB_SCHEDULER_LEASE seconds when it dies."""
    from synchub.cli import launch

    launch.setup_logging()
    with services() as svc:
        launch.check_at_start(svc, err.get(), secrets=False)  # it opens none
        launch.scheduler(svc, err.get())


def worker_cmd(
    queues: Annotated[
        str,
        typer.Option(envvar="SYNCHUB_WORKER_QUEUES", help="Queues to take runs from, a,b."),
    ] = "default",
    concurrency: Annotated[
        int,
        typer.Option(envvar="SYNCHUB_WORKER_CONCURRENCY", min=1, max=256, help="Runs at once."),
    ] = 2,
    pool: Annotated[
        str,
        typer.Option(envvar="SYNCHUB_WORKER_POOL", help="Celery pool: prefork, solo or threads."),
    ] = "prefork",
    name: Annotated[
        str, typer.Option(envvar="SYNCHUB_WORKER_NAME", help="Node name; default synchub-PID@HOST.")
    ] = "",
) -> None:
    """Run a Celery worker that takes synchub's runs from the broker."""
    from synchub.cli import launch

    with services() as svc:
        argv = launch.worker(
            svc, err.get(), queues=queues.split(","), concurrency=concurrency, pool=pool, name=name
        )
        seal_stored(svc)
    # Checked: this process becomes the worker, a fresh interpreter without the command
    # line's modules (see synchub/processes/celery_worker.py). Same pid, environment and output.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 - this interpreter, with our own arguments
