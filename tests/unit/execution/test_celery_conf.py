"""The Celery settings synchub ships, and what the start-up check makes of a user's."""

from __future__ import annotations

from typing import Any

import pytest

from synchub.execution.celery_conf import celery_conf, check_conf

REDIS = "redis://127.0.0.1:6379/0"
AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def conf(broker: str = REDIS, **overrides: Any) -> dict[str, Any]:
    return {**celery_conf(broker, "", 3600), **overrides}


def test_synchubs_own_settings_pass_the_check() -> None:
    assert check_conf(conf(), longest_timeout_s=600) == []
    assert check_conf(conf(AMQP), longest_timeout_s=600) == []
    assert check_conf(conf(), longest_timeout_s=None) == []


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"worker_prefetch_multiplier": 4}, "worker_prefetch_multiplier is 4"),
        ({"worker_cancel_long_running_tasks_on_connection_loss": True}, "kill every running"),
    ],
)
def test_settings_that_would_hurt_runs_are_refused(override: dict[str, Any], words: str) -> None:
    problems = check_conf(conf(**override), longest_timeout_s=None)
    assert [(p.fatal, words in p.message) for p in problems] == [(True, True)]


def test_settings_that_only_cost_a_redelivery_are_warnings() -> None:
    late = check_conf(conf(task_acks_late=False), longest_timeout_s=None)
    assert [(p.fatal, "SYNCHUB_REQUEUE_AFTER" in p.message) for p in late] == [(False, True)]
    redis = check_conf(conf(), longest_timeout_s=7200)
    assert [(p.fatal, "visibility_timeout (3600 s)" in p.message) for p in redis] == [(False, True)]
    rabbit = check_conf(conf(AMQP), longest_timeout_s=7200)
    assert [(p.fatal, "consumer_timeout" in p.message) for p in rabbit] == [(False, True)]
