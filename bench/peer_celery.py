"""The peer `celery_bench` sets synchub against: Celery as teams run it when each task must
be on record, with a PostgreSQL result backend through SQLAlchemy, `task_track_started`
and late acknowledgement. Every task is written to the database, in a transaction of its
own, when it starts (STARTED) and when it ends (SUCCESS), as a synchub run is claimed
and ended.

Started as `python -m celery -A bench.peer_celery worker ...` with the broker in
BENCH_BROKER_URL and the database in BENCH_PEER_DB_URL (a SQLAlchemy URL, e.g.
`postgresql+psycopg://user@host/db`). Like `bench.bare_celery`, it keeps Celery's
defaults except how a worker takes messages (a prefetch of one, late acks, JSON only);
the backend's tables are Celery's own (`celery_taskmeta`).
"""

from __future__ import annotations

import os

from celery import Celery

TASK = "bench.peer_noop"


def make_app(broker_url: str, db_url: str) -> Celery:
    app = Celery("bench_peer", set_as_current=False)
    app.conf.update(
        broker_url=broker_url,
        # "db+" picks Celery's SQLAlchemy backend; the rest is SQLAlchemy's URL
        result_backend=f"db+{db_url}",
        task_track_started=True,
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
    )
    app.task(name=TASK)(noop)
    return app


def noop(n: int) -> None:
    """Nothing: the benchmark measures the transport, the worker and the records."""


app = make_app(
    os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"),
    os.environ.get("BENCH_PEER_DB_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
