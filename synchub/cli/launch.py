"""The long-running processes started: `serve`, `scheduler` and `worker` (the commands
are in `procs`)."""

from __future__ import annotations

import gc
import ipaddress
import logging
import os
import signal
import threading
from typing import TYPE_CHECKING

from rich.console import Console

from synchub.cli.local_socket import Listener
from synchub.core.errors import InvalidInput
from synchub.processes.node import Node
from synchub.services import Services
from synchub.store.crypto import import_crypto

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

    from synchub.config import Settings

log = logging.getLogger(__name__)

POOLS = ("prefork", "solo", "threads")
#: Seconds `serve` waits on SIGTERM for open requests (event streams never end by
#: themselves) before it closes them; the runs' own grace period follows.
STREAMS_GRACE_S = 3


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its schema check is no news


def check_at_start(svc: Services, err: Console, *, secrets: bool = True) -> None:
    """Warn about data files open to other users. With `secrets` (a process that
    opens them): refuse to start without a secret key when nothing is sealed either
    (`synchub init` makes one), and warn about sealed values the key cannot open (a
    server that lists, edits and removes them beats none)."""
    from synchub.services.datadir import mode_warnings

    if secrets:
        svc.secrets.check_key()
    for line in mode_warnings(svc.settings):
        err.print(f"warning: {line}", markup=False)
    if secrets and (problem := svc.secrets.problem()) is not None:
        err.print(f"warning: {problem}", markup=False)


def check_celery(svc: Services, err: Console) -> None:
    """Refuse Celery settings that would hurt long runs; warn about the others."""
    from synchub.execution.celery_conf import check_conf
    from synchub.processes.worker import make_app

    conf = make_app(svc.settings).conf
    for problem in check_conf(conf, svc.jobs.longest_timeout()):
        if problem.fatal:
            raise InvalidInput(f"Celery setting: {problem.message}")
        err.print(f"warning: {problem.message}", markup=False)


def serve(svc: Services, err: Console, host: str, port: int, *, workers: int,
          scheduler: bool, pool: bool) -> None:  # fmt: skip
    """The API, with the scheduler and the local pool unless they are turned off."""
    import uvicorn

    from synchub.api.app import create_app

    celery = svc.settings.executor == "celery"
    if celery:
        check_celery(svc, err)
    if scheduler and not pool and not celery:
        raise InvalidInput(
            "--no-workers with the local executor leaves the scheduler nowhere to run: "
            "add --no-scheduler, or set SYNCHUB_EXECUTOR=celery"
        )
    node = Node(svc, workers, scheduler_on=scheduler, pool=pool and not celery)
    if node.runner is not None and svc.any_sealed():
        import_crypto()  # at start, not at the first run that opens a secret
    node.start()
    warn_if_exposed(host)
    app = create_app(node)
    config = uvicorn_config(app, svc.settings, host, port)
    server = uvicorn.Server(config)
    # What start-up imported and built lives as long as the process: out of the
    # collector's sight, a full collection no longer walks it (~100 ms pauses).
    gc.collect()
    gc.freeze()
    # uvicorn re-raises the signal it caught once it has stopped serving; our own
    # handler turns that into a normal return so the runs get their grace period.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _sig, _frame: setattr(server, "should_exit", True))
    local: Listener | None = None
    try:
        # One server on both sockets: one loop, one set of signal handlers, one
        # graceful shutdown; the TCP socket is bound (and said) as uvicorn would.
        sockets = [config.bind_socket()]
        local = Listener.open(svc.settings.home)
        if local is not None:
            app.state.local_socket = local.name
            sockets.append(local.sock)
            log.info("local socket %s: reads for this user's synchub commands", local.path)
        server.run(sockets=sockets)
    finally:
        if local is not None:
            local.close()
        if node.runner is not None:
            err.print("stopping: letting running runs finish …")
        node.stop(svc.settings.shutdown_grace)


def uvicorn_config(app: ASGIApp, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """How `serve` serves `app`: no `server` header (it would name uvicorn), and
    X-Forwarded-* believed only from SYNCHUB_TRUSTED_PROXIES (uvicorn's own default
    believes 127.0.0.1, so any local process could pick the client address the
    limit on failed authentications counts)."""
    import uvicorn

    proxies = settings.trusted_proxies
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        lifespan="off",
        server_header=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        # Open event streams (a console left on the dashboard) end rather than keep
        # the server from stopping.
        timeout_graceful_shutdown=STREAMS_GRACE_S,
    )


def warn_if_exposed(host: str) -> None:
    """Warn when `host` lets other machines connect: serve speaks plain HTTP."""
    if is_loopback(host):
        return
    log.warning(
        "serving plain HTTP on %s: tokens and secrets cross the network unencrypted. "
        'Put a reverse proxy with TLS in front (docs/deploy.md, "Behind a reverse '
        'proxy (TLS)") and bind 127.0.0.1',
        host,
        extra={"action": "serve_exposed"},
    )


def is_loopback(host: str) -> bool:
    """True when `host` accepts connections from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def scheduler(svc: Services, err: Console) -> None:
    """The scheduler alone, dispatching to Celery workers, until SIGTERM or SIGINT."""
    if svc.settings.executor != "celery":
        raise InvalidInput(
            "`synchub scheduler` dispatches to Celery workers: set SYNCHUB_EXECUTOR=celery "
            "and SYNCHUB_BROKER_URL (the embedded default runs its scheduler in `serve`)"
        )
    check_celery(svc, err)
    node = Node(svc, workers=1, scheduler_on=True, pool=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _sig, _frame: stop.set())
    node.start()
    err.print(f"scheduler {node.name} started; waiting for the lead", markup=False)
    stop.wait()
    node.stop(0)


def worker(svc: Services, err: Console, *, queues: list[str], concurrency: int,
           pool: str, name: str) -> list[str]:  # fmt: skip
    """Check a Celery worker's set-up; the command line of the worker process itself
    (`synchub.processes.celery_worker`), which `synchub worker` becomes."""
    from synchub.processes.celery_worker import argv

    if svc.settings.executor != "celery" and not svc.settings.broker_url:
        raise InvalidInput(
            "`synchub worker` takes runs from a broker: set SYNCHUB_BROKER_URL "
            "(or CELERY_BROKER_URL), e.g. redis://127.0.0.1:6379/0"
        )
    if pool not in POOLS:
        raise InvalidInput(f"Bad --pool {pool!r}: use one of {', '.join(POOLS)}")
    if not queues or any(not q.strip() for q in queues):
        raise InvalidInput("Bad --queues: give queue names separated by commas, e.g. default,nas")
    check_celery(svc, err)
    check_at_start(svc, err)
    return argv(
        [q.strip() for q in queues],
        concurrency,
        pool,
        name or f"synchub-{os.getpid()}@%h",  # the same pid once exec'd
        crypto=svc.any_sealed(),
    )
