"""The Celery executor: runs go to a broker (Redis or RabbitMQ) and any worker takes them.

The broker carries only the run id; the database stays the truth. A message delivered
twice finds its run already claimed and does nothing, and a message lost on the way
leaves a queued run that the scheduler sends again (see `requeue_after`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from celery import Celery
from kombu import Connection

from synchub.execution.executor import Handed, WorkerInfo

log = logging.getLogger(__name__)

#: The one task synchub sends: run the run whose id is the task id.
TASK = "synchub.run"
#: Seconds without a publish attempt after the broker refused one.
BROKER_BACKOFF_S = 5.0
#: Redis commands buffered before a batch's pipeline is sent.
BATCH_SIZE = 1000


class CeleryExecutor:
    """Publish queued runs as `synchub.run` tasks; task id = run id."""

    def __init__(self, app: Celery, *, max_per_pass: int = 1000) -> None:
        self.app = app
        self.max_per_pass = max_per_pass
        self._down_until = 0.0
        self._lock = threading.Lock()

    def capacity(self, queue: str) -> int:
        # The broker buffers; what may start is decided by the claim in the database.
        with self._lock:
            return 0 if time.monotonic() < self._down_until else self.max_per_pass

    def submit(self, run_id: int, queue: str, at: datetime | None = None) -> None:
        error = self._send([(run_id, queue, at)], [])
        if error is not None:
            raise error

    def submit_many(self, runs: Sequence[Handed]) -> list[int]:
        """Publish the runs' tasks through one producer; on Redis in one pipeline (a
        round trip per thousand runs, not one each), where a failed flush leaves the
        delivery of its messages uncertain. The ids of runs that may not have been
        published; a message that went through all the same finds its run claimed
        or no longer queued, and does nothing."""
        sent: list[int] = []
        error = self._send(runs, sent)
        if error is None:
            return []
        log.warning(
            "broker refused a publish: %s: %s", type(error).__name__, error,
            extra={"action": "dispatch_error"},
        )  # fmt: skip
        done = set(sent)
        return [r[0] for r in runs if r[0] not in done]

    def _send(self, runs: Sequence[Handed], sent: list[int]) -> Exception | None:
        """Publish `runs`, adding to `sent` each one surely published; the error when
        some may not be."""
        # Two tries: after the broker dropped a pooled connection, its next publish
        # fails (RabbitMQ) though the broker is back; a real outage fails both.
        for attempt in (1, 2):
            done = set(sent)
            try:
                self._publish([r for r in runs if r[0] not in done], sent)
                return None
            except Exception as exc:
                if attempt == 2:
                    with self._lock:
                        self._down_until = time.monotonic() + BROKER_BACKOFF_S
                    return exc
        return None  # not reached

    def _publish(self, runs: Sequence[Handed], sent: list[int]) -> None:
        """Publish `runs`, adding to `sent` each one surely published."""
        with self.app.producer_or_acquire() as producer:
            # kombu 5.7's batches; Redis only, and only where a pipeline is never replayed.
            batched = bool(getattr(producer, "supports_batch_publish", False))
            batch = producer.batch(BATCH_SIZE) if batched else contextlib.nullcontext()
            with batch:
                for run_id, queue, at in runs:
                    # A run fired ahead carries its fire time: the worker waits for it,
                    # so the broker's latency falls before the fire time, not after it.
                    kwargs = {} if at is None else {"at": at.isoformat()}
                    # The reprs given: Celery's own (saferepr) cost a tenth of a publish.
                    self.app.send_task(
                        TASK, args=[run_id], kwargs=kwargs, task_id=str(run_id),
                        queue=queue, retry=False, producer=producer,
                        argsrepr=repr([run_id]), kwargsrepr=repr(kwargs),
                    )  # fmt: skip
                    if not batched:
                        sent.append(run_id)
            if batched:
                sent.extend(r[0] for r in runs)

    def in_flight(self) -> set[int]:
        return set()  # runs on workers prove they live by their heartbeats

    def shutdown(self, grace_s: float) -> None:
        self.app.close()

    def describe(self, timeout_s: float = 1.0) -> list[WorkerInfo]:
        """The Celery workers that answer a broadcast within `timeout_s`."""
        inspect = self.app.control.inspect(timeout=timeout_s)
        queues = inspect.active_queues() or {}
        stats = inspect.stats() or {}
        active = inspect.active() or {}
        versions = _versions(self.app, timeout_s)
        return [
            WorkerInfo(
                name=name,
                kind="celery",
                queues=sorted(q["name"] for q in queues.get(name, [])),
                concurrency=_concurrency(dict(stats.get(name, {}))),
                active=sorted(_run_ids([dict(t) for t in active.get(name, [])])),
                version=versions.get(name),
            )
            for name in sorted(set(queues) | set(stats))
        ]


#: The remote-control command a synchub worker answers with its version
#: (registered in synchub.processes.worker); Celery's own stats do not carry it.
VERSION_COMMAND = "synchub_version"


def _versions(app: Celery, timeout_s: float) -> dict[str, str]:
    """Each answering worker's synchub version, by node name; a worker too old to
    know the command does not answer it."""
    replies = app.control.broadcast(VERSION_COMMAND, reply=True, timeout=timeout_s) or []
    found = {}
    for reply in replies:
        for name, answer in dict(reply).items():
            if isinstance(answer, dict) and isinstance(answer.get("version"), str):
                found[name] = answer["version"]
    return found


def _concurrency(stats: dict[str, Any]) -> int | None:
    value = stats.get("pool", {}).get("max-concurrency")
    return int(value) if isinstance(value, int) else None


def _run_ids(tasks: list[dict[str, Any]]) -> list[int]:
    return [int(t["id"]) for t in tasks if t.get("name") == TASK and str(t.get("id")).isdigit()]


def broker_problem(url: str, timeout_s: float = 2.0) -> str | None:
    """Why the broker at `url` cannot be reached now, or None when it answers."""
    try:
        with Connection(url, connect_timeout=timeout_s) as conn:
            conn.ensure_connection(max_retries=1, timeout=max(1, round(timeout_s)))
    except Exception as exc:
        return f"broker unreachable: {type(exc).__name__}: {exc}"
    return None
