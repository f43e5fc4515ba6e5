"""Celery settings that keep long file syncs safe, and the check of a user's overrides.

Known traps (docs/deploy.md, "Celery traps"): Redis redelivers a message unacknowledged after its
`visibility_timeout`; RabbitMQ closes the channel of a consumer holding a message past
`consumer_timeout`; a worker that prefetches several messages makes runs wait behind a
long sync. synchub's claim makes a second delivery harmless, so the checks refuse only
what would hurt runs and warn about what costs a redelivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: RabbitMQ's default consumer_timeout since 3.8.15, in seconds.
RABBITMQ_CONSUMER_TIMEOUT_S = 30 * 60


@dataclass(frozen=True)
class ConfProblem:
    fatal: bool
    message: str


def celery_conf(broker_url: str, result_backend: str, visibility_timeout_s: int) -> dict[str, Any]:
    """synchub's Celery configuration; a user's config module may override it after."""
    return {
        "broker_url": broker_url,
        # The database holds results; a backend, when set, serves Celery's own tools.
        "result_backend": result_backend or None,
        "task_ignore_result": True,
        "task_acks_late": True,
        # A killed worker's run is ended as lost by the reaper and retried by policy.
        "task_reject_on_worker_lost": False,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # Redis: a publish to a broker gone silent fails instead of hanging the scheduler.
        "broker_transport_options": {
            "visibility_timeout": visibility_timeout_s,
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
        },
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 2.0,
        "task_default_queue": "default",
        "task_serializer": "json",
        "accept_content": ["json"],
        # Task events cost a third of a worker's throughput; Flower turns them on itself.
        "worker_send_task_events": False,
        "worker_hijack_root_logger": False,
    }


def check_conf(conf: Mapping[str, Any], longest_timeout_s: float | None) -> list[ConfProblem]:
    """What in `conf` would hurt long runs (fatal) or cost a redelivery (warning).

    `longest_timeout_s` is the longest timeout of any job, None when no job has one.
    """
    problems: list[ConfProblem] = []
    prefetch = conf.get("worker_prefetch_multiplier")
    if prefetch != 1:
        problems.append(
            ConfProblem(
                True,
                f"worker_prefetch_multiplier is {prefetch}: it must be 1, or runs wait "
                "behind a long sync on a busy worker while others sit idle",
            )
        )
    if conf.get("worker_cancel_long_running_tasks_on_connection_loss"):
        problems.append(
            ConfProblem(
                True,
                "worker_cancel_long_running_tasks_on_connection_loss is on: a broker "
                "hiccup would kill every running sync; turn it off",
            )
        )
    if not conf.get("task_acks_late"):
        problems.append(
            ConfProblem(
                False,
                "task_acks_late is off: a message taken by a worker that dies before "
                "claiming its run is sent again only after SYNCHUB_REQUEUE_AFTER",
            )
        )
    problems.extend(_broker_timeouts(conf, longest_timeout_s))
    return problems


def _broker_timeouts(conf: Mapping[str, Any], longest_s: float | None) -> list[ConfProblem]:
    url = str(conf.get("broker_url") or "")
    if longest_s is None:
        return []
    if url.startswith(("redis://", "rediss://")):
        options = conf.get("broker_transport_options") or {}
        visibility = float(options.get("visibility_timeout", 3600))
        if longest_s > visibility:
            return [
                ConfProblem(
                    False,
                    f"a job's timeout ({longest_s:.0f} s) exceeds Redis' visibility_timeout "
                    f"({visibility:.0f} s): its message is delivered again while it runs; "
                    "the second delivery finds the run claimed and does nothing, "
                    "raise SYNCHUB_VISIBILITY_TIMEOUT to avoid it",
                )
            ]
    if url.startswith(("amqp://", "amqps://", "pyamqp://")) and (
        longest_s > RABBITMQ_CONSUMER_TIMEOUT_S
    ):
        return [
            ConfProblem(
                False,
                f"a job's timeout ({longest_s:.0f} s) exceeds RabbitMQ's default "
                "consumer_timeout (1800 s): RabbitMQ may close the worker's channel during "
                "the run; the run goes on and the redelivery does nothing, but set "
                "consumer_timeout in rabbitmq.conf above your longest run to avoid it",
            )
        ]
    return []
