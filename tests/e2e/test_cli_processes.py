"""`synchub worker`, `synchub scheduler` and `serve`'s switches refuse set-ups that
cannot work, with one clear line and exit code 2."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Synchub

REDIS = {"SYNCHUB_EXECUTOR": "celery", "SYNCHUB_BROKER_URL": "redis://127.0.0.1:6379/0"}


@pytest.mark.parametrize(
    ("env", "args", "words"),
    [
        ({}, ["worker"], "set SYNCHUB_BROKER_URL"),
        ({}, ["scheduler"], "set SYNCHUB_EXECUTOR=celery"),
        ({}, ["serve", "--workers", "2", "--no-workers"], "leaves the scheduler nowhere to run"),
        ({"SYNCHUB_EXECUTOR": "celery"}, ["worker"], "needs SYNCHUB_BROKER_URL"),
        ({"SYNCHUB_EXECUTOR": "rq"}, ["scheduler"], "SYNCHUB_EXECUTOR: Input should be"),
        (REDIS, ["worker", "--pool", "gevent"], "Bad --pool 'gevent'"),
        (REDIS, ["worker", "--queues", "a,,b"], "Bad --queues"),
        ({**REDIS, "SYNCHUB_CELERY_CONFIG": "no_such_module"}, ["worker"], "no_such_module"),
    ],
)
def test_impossible_set_ups_are_refused_clearly(
    synchub: Synchub, env: dict[str, str], args: list[str], words: str
) -> None:
    synchub.env.update(env)
    proc = synchub(*args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr
    assert proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr


def test_a_refused_prefetch_setting_stops_the_worker_before_it_starts(
    synchub: Synchub, tmp_path: object
) -> None:
    conf = synchub.home / "greedy.py"
    conf.write_text("worker_prefetch_multiplier = 8\n")
    synchub.env.update({**REDIS, "SYNCHUB_CELERY_CONFIG": "greedy", "PYTHONPATH": str(conf.parent)})
    proc = synchub("worker", check=False)
    assert proc.returncode == 2
    assert "worker_prefetch_multiplier is 8" in proc.stderr
