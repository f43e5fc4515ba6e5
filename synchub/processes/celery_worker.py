"""The process `synchub worker` becomes (`os.execv`) once the command has checked its
options, the settings and the database: a Celery worker of synchub's app.

Why a fresh interpreter: a prefork worker's pool processes are forks of its main
process, and each holds what the main process imported. `synchub worker` imports the
command line (typer, rich and every command's modules), and Celery's `worker_main`
imports Celery's whole command line (click-repl, prompt_toolkit, pygments, …): ≈ 13 MiB
that no run uses, in each of the worker's processes. This module starts Celery's
worker directly, as `celery worker` would with the same options.

Not for people to run: its options are what `synchub worker` passes on.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from importlib.metadata import entry_points

from celery.concurrency import get_implementation
from celery.utils.nodenames import default_nodename, host_format

from synchub.config import Settings
from synchub.processes.worker import make_app
from synchub.store.crypto import import_crypto


def argv(queues: list[str], concurrency: int, pool: str, hostname: str, crypto: bool) -> list[str]:
    """The command line that runs this module with these options."""
    # The same sys.path as this process: `python -m synchub` put the working directory
    # first (so does `-m` for the new process); the `synchub` script did not (-P).
    cwd_first = sys.path[0] in ("", os.getcwd())
    return [
        sys.executable,
        *([] if cwd_first else ["-P"]),
        "-m",
        __name__,
        f"--queues={','.join(queues)}",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
        f"--hostname={hostname}",
        *(["--import-crypto"] if crypto else []),
    ]


def import_for_runs(settings: Settings, *, crypto: bool) -> None:
    """Import here, before the pool processes are forked, what their runners will use:
    the database's driver, the kinds (plug-ins too), the services the runner calls and
    cryptography when the database holds secrets. Imported once and shared, not once
    per pool process, nor at a run."""
    # What worker._runner and the runner it makes import:
    import synchub.engines.command
    import synchub.engines.rclone.engine
    import synchub.services.remotes  # noqa: F401
    from synchub.engines.registry import ENTRY_POINT
    from synchub.store.db import make_engine

    make_engine(settings.db_url).dispose()  # imports the driver; connects to nothing
    for ep in entry_points(group=ENTRY_POINT):
        with contextlib.suppress(Exception):  # a broken plug-in is logged at its first use
            ep.load()
    if crypto:
        import_crypto()


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__)
    parser.add_argument("--queues", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--pool", required=True)
    parser.add_argument("--hostname", required=True)
    parser.add_argument(
        "--import-crypto",
        action="store_true",
        help="import cryptography before forking: the database holds secrets",
    )
    opts = parser.parse_args(args)
    settings = Settings()
    app = make_app(settings)
    import_for_runs(settings, crypto=opts.import_crypto)
    # As `celery worker --pool prefork` does: a pool set in the configuration wins.
    pool = app.conf.worker_pool if opts.pool == "prefork" and app.conf.worker_pool else opts.pool
    worker = app.Worker(
        hostname=host_format(default_nodename(opts.hostname)),
        pool_cls=get_implementation(pool),
        concurrency=opts.concurrency,
        queues=opts.queues.split(","),
        loglevel=logging.INFO,
        without_mingle=True,
        without_gossip=True,
        optimization="default",
    )
    worker.start()
    return int(worker.exitcode or 0)


if __name__ == "__main__":
    sys.exit(main())
