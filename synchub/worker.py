"""synchub's Celery app and its one task; `synchub worker` starts a worker of it
(`synchub.celery_app` holds the app for Celery's own tools and Flower).

Each worker process makes its own services and runner after the fork (a database
connection must not cross a fork) and dies with the worker's main process, so a
worker killed with -9 leaves no rclone behind.
"""

from __future__ import annotations

import gc
import importlib
import os
from datetime import datetime
from types import ModuleType
from typing import Any

from celery import Celery
from celery.signals import worker_before_create_process, worker_process_init

from synchub.config import Settings
from synchub.core.errors import InvalidInput
from synchub.engines.process import die_with_parent
from synchub.execution.celery_conf import celery_conf
from synchub.execution.celery_exec import TASK
from synchub.execution.runner import Runner
from synchub.services import Services


def make_app(settings: Settings) -> Celery:
    """The Celery app for `settings`, with SYNCHUB_CELERY_CONFIG's module applied last."""
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
    `at`: the fire time of a run fired ahead (ISO 8601), not to start before."""
    start = None if at is None else datetime.fromisoformat(at)
    claim = _runner().execute(int(run_id), start)
    return claim.value


_state: dict[int, tuple[Services, Runner]] = {}


def _runner() -> Runner:
    from synchub.node import make_runner, process_name

    pid = os.getpid()
    if pid not in _state:
        svc = Services(Settings(), actor="worker")
        svc.box  # noqa: B018 - a missing key fails the first run clearly, not mid-way
        _state.clear()  # a forked copy of the parent's services is not ours to use
        _state[pid] = (svc, make_runner(svc, process_name()))
    return _state[pid][1]


@worker_before_create_process.connect
def _before_fork(**_kwargs: Any) -> None:
    # Move everything imported so far out of the garbage collector's reach: otherwise
    # each pool process's first collections write to (and so copy) the pages of objects
    # it shares with the main process.
    gc.freeze()


@worker_process_init.connect
def _pool_process_started(**_kwargs: Any) -> None:
    die_with_parent()
