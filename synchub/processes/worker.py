"""synchub's Celery app and its one task; `synchub worker` starts a worker of it
(`synchub.celery_app` holds the app for Celery's own tools and Flower).

Each worker process makes its own services and runner after the fork (a database
connection must not cross a fork) and dies with the worker's main process, so a
worker killed with -9 leaves no rclone behind.

On SIGTERM Celery stops taking messages and waits for the running tasks, for ever.
synchub bounds that wait: after SYNCHUB_WORKER_SHUTDOWN_GRACE the runs still running
are stopped (their processes get SIGTERM, then SIGKILL after SYNCHUB_KILL_GRACE) and
end as lost, retried by their job's policy; then the worker exits.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import signal
import threading
from datetime import datetime
from types import ModuleType
from typing import Any

from billiard.process import active_children
from celery import Celery
from celery.exceptions import Reject
from celery.signals import (
    worker_before_create_process,
    worker_process_init,
    worker_process_shutdown,
    worker_shutdown,
    worker_shutting_down,
)
from celery.worker.control import inspect_command

from synchub import __version__
from synchub.config import Settings
from synchub.core.errors import InvalidInput
from synchub.engines.process import die_with_parent
from synchub.execution.celery_conf import celery_conf
from synchub.execution.celery_exec import TASK, VERSION_COMMAND
from synchub.execution.runner import Runner, RunnerClosed, StopReason
from synchub.processes.runners import make_runner, process_name
from synchub.services import Services
from synchub.store.outage import DB_OUTAGE

log = logging.getLogger(__name__)


def make_app(settings: Settings) -> Celery:
    """The Celery app for `settings`, with SYNCHUB_CELERY_CONFIG's module applied last."""
    global _shutdown_grace_s
    _shutdown_grace_s = settings.worker_shutdown_grace
    app = Celery("synchub", set_as_current=False)
    app.conf.update(
        celery_conf(
            settings.broker_url,
            settings.result_backend,
            int(settings.visibility_timeout),
        )
    )
    if settings.celery_config:
        app.conf.update(user_conf(settings.celery_config))
    app.task(name=TASK, acks_late=True, ignore_result=True)(run_task)
    return app


@inspect_command(name=VERSION_COMMAND)
def _report_version(state: Any, **_kwargs: Any) -> dict[str, str]:
    """Answer `doctor` with this worker's synchub version: Celery's stats lack it."""
    return {"version": __version__}


def user_conf(module_name: str) -> dict[str, Any]:
    """The lower-case Celery settings of a user's module (a celeryconfig.py)."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"Bad SYNCHUB_CELERY_CONFIG {module_name!r}: {exc}") from None
    return {
        k: v
        for k, v in vars(module).items()
        if k.islower() and not k.startswith("_") and not isinstance(v, ModuleType)
    }


def run_task(run_id: int, at: str | None = None) -> str:
    """Claim run `run_id` and run it here; a run claimed elsewhere is left alone.
    `at`: the fire time of a run fired ahead (ISO 8601), not to start before.

    A worker shutting down hands the message back to the broker, for another worker.
    """
    start = None if at is None else datetime.fromisoformat(at)
    try:
        claim = _runner().execute(int(run_id), start)
    except RunnerClosed:
        raise Reject("this worker is shutting down", requeue=True) from None
    except Exception as exc:
        # The run stays queued; the scheduler sends it again once the database is back.
        if not DB_OUTAGE.failed(exc, f"run {run_id}'s claim"):
            raise
        return "database_unreachable"
    return claim.value


_state: dict[int, tuple[Services, Runner]] = {}


def _runner() -> Runner:
    pid = os.getpid()
    if pid not in _state:
        svc = Services(Settings(), actor="worker")
        svc.box  # noqa: B018 - a bad key fails the first run clearly, not mid-way
        _state.clear()  # a forked copy of the parent's services is not ours to use
        # A run's end is written while Celery acknowledges its message and hands over
        # the next one: the next run's claim waits for it where it matters (see
        # RunnerSettings).
        _state[pid] = (svc, make_runner(svc, process_name(), end_behind=True))
    return _state[pid][1]


@worker_process_shutdown.connect  # in each pool process, as it exits (prefork)
@worker_shutdown.connect  # in the main process (solo and threads pools run runs there)
def _write_ends(**_kwargs: Any) -> None:
    """Before the process exits: wait for the ends its runner writes behind."""
    state = _state.get(os.getpid())
    if state is not None:
        state[1].close()


@worker_before_create_process.connect
def _before_fork(**_kwargs: Any) -> None:
    # Move everything imported so far out of the garbage collector's reach: otherwise
    # each pool process's first collections write to (and so copy) the pages of objects
    # it shares with the main process.
    gc.freeze()


@worker_process_init.connect
def _pool_process_started(**_kwargs: Any) -> None:
    die_with_parent()
    # A signal handler runs in the main thread between any two bytecodes, maybe while
    # it holds a lock that stopping the runs needs: it only writes to a pipe, and a
    # thread of its own does the stopping. (Not a blocked signal taken by sigwait:
    # rclone would inherit the mask, and rclone toggles its bandwidth limit on SIGUSR2.)
    read_end, write_end = os.pipe()
    signal.signal(STOP_RUNS, lambda _signum, _frame: os.write(write_end, b"x"))
    threading.Thread(
        target=_wait_for_stop_runs, args=(read_end,), name="synchub-stop-runs", daemon=True
    ).start()
    # The services and runner now, not at the first run: reading the settings and the
    # installed kinds (entry points) takes milliseconds a run should not wait for.
    try:
        _runner()
    except Exception:
        log.exception("cannot make this process's runner; the first run will try again")


#: What the main process sends its pool processes when the shutdown grace is over.
#: Not SIGTERM: Celery's pool uses that to kill a pool process outright.
STOP_RUNS = signal.SIGUSR2
#: Seconds running runs get after a warm shutdown began (set by `make_app`).
_shutdown_grace_s: float = 30.0


@worker_shutting_down.connect
def _shutting_down(how: str = "", **_kwargs: Any) -> None:
    """In the main process, at the start of a warm shutdown: stop what still runs
    once the grace period is over. (A cold shutdown kills the pool processes.)"""
    if how != "Warm":
        return
    log.info(
        "warm shutdown: running runs get %.0f s to finish",
        _shutdown_grace_s,
        extra={"action": "shutdown_grace"},
    )
    timer = threading.Timer(_shutdown_grace_s, _grace_over)
    timer.daemon = True
    timer.start()


def _grace_over() -> None:
    """Stop the runs of this process (solo and threads pools) and of every pool
    process (prefork): they end as lost and are retried by policy."""
    log.warning(
        "shutdown grace over: stopping the runs still running", extra={"action": "shutdown_stop"}
    )
    _stop_runs()
    for child in active_children():
        if child.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, STOP_RUNS)


def _wait_for_stop_runs(read_end: int) -> None:
    os.read(read_end, 1)
    _stop_runs()


def _stop_runs() -> None:
    state = _state.get(os.getpid())
    if state is not None:
        state[1].stop_all(StopReason.SHUTDOWN)
