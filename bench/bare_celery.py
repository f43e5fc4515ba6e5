"""A bare Celery app, the baseline `celery_bench` sets synchub against: a no-op task, and
one that returns the time it started (the worker logs it with "succeeded").

Started as `python -m celery -A bench.bare_celery worker ...` with the broker in
BENCH_BROKER_URL. Its settings are Celery's defaults except those synchub also sets for
its own task (`synchub/execution/celery_conf.py`) that decide how a worker takes
messages: late acknowledgement, a prefetch of one, no result backend, JSON only.
BENCH_TASK_EVENTS=1 also turns on task events, which synchub turns on for Flower.
"""

from __future__ import annotations

import os
import time

from celery import Celery

TASK = "bench.noop"
#: a task that returns the time it started, logged by the worker in its "succeeded" line
STAMP = "bench.stamp"


def make_app(broker_url: str, events: bool) -> Celery:
    app = Celery("bench_bare", set_as_current=False)
    app.conf.update(
        broker_url=broker_url,
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_send_task_events=events,
        task_send_sent_event=events,
    )
    app.task(name=TASK, acks_late=True, ignore_result=True)(noop)
    app.task(name=STAMP, acks_late=True, ignore_result=True)(stamp)
    return app


def noop(n: int) -> None:
    """Nothing: the benchmark measures the transport and the worker, not the work."""


def stamp(fire_ts: float) -> float:
    """The Unix time this task started; the worker logs it with "succeeded"."""
    return time.time()


app = make_app(
    os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("BENCH_TASK_EVENTS") == "1",
)
