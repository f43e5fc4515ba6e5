"""Real command runs: output to the log, exit codes, stop."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from synchub.engines.command import CommandEngine
from tests.integration.engines.helpers import make_ctx

ENGINE = CommandEngine(kill_grace=2.0)


def run(params: dict[str, Any]) -> Any:
    ctx = make_ctx(ENGINE.validate(params, frozenset()))
    return ENGINE.run(ctx), ctx.sink


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_output_goes_to_the_log_and_exit_zero_succeeds() -> None:
    outcome, sink = run({"argv": py("import sys; print('out'); print('err', file=sys.stderr)")})
    assert outcome.ok and outcome.exit_code == 0
    assert sorted(sink.logs) == [("info", "err", {"stream": "stderr"}),
                                 ("info", "out", {"stream": "stdout"})]  # fmt: skip
    assert outcome.stats.elapsed_s > 0


def test_a_non_zero_exit_is_a_failure_a_retry_may_fix() -> None:
    outcome, _ = run({"argv": py("import sys; sys.exit('repository locked')")})
    assert (outcome.ok, outcome.exit_code, outcome.error_class) == (False, 1, "temporary")
    assert not outcome.permanent
    assert outcome.error == "repository locked"


def test_a_missing_program_fails_for_good() -> None:
    outcome, _ = run({"argv": ["/nonexistent/restic", "backup"]})
    assert (outcome.ok, outcome.error_class, outcome.permanent) == (False, "not_found", True)
    assert "/nonexistent/restic" in (outcome.error or "")


def test_it_gets_the_jobs_env_and_cwd_but_not_the_servers_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCHUB_SECRET_KEY", "do-not-leak")
    code = (
        "import os; print(os.getcwd(), os.environ.get('REPO'), 'SYNCHUB_SECRET_KEY' in os.environ)"
    )
    outcome, sink = run({"argv": py(code), "env": {"REPO": "/r"}, "cwd": str(tmp_path)})
    assert outcome.ok
    assert sink.messages() == [f"{tmp_path} /r False"]


def test_arguments_are_never_interpreted_by_a_shell(tmp_path: Path) -> None:
    outcome, sink = run({"argv": ["echo", "$(touch pwned)", ";", "rm", "-rf", "x"],
                         "cwd": str(tmp_path)})  # fmt: skip
    assert outcome.ok
    assert sink.messages() == ["$(touch pwned) ; rm -rf x"]
    assert not (tmp_path / "pwned").exists()


def test_a_stop_ends_the_command_promptly() -> None:
    sleeper = py("print('ready', flush=True)\nimport time; time.sleep(60)")
    ctx = make_ctx(ENGINE.validate({"argv": sleeper}, frozenset()))
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(ENGINE.run(ctx)))
    worker.start()
    deadline = time.monotonic() + 10
    while not ctx.sink.logs and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.02)
    stopped_at = time.monotonic()
    ctx.stop.set()
    worker.join(timeout=10)
    assert time.monotonic() - stopped_at < ENGINE.kill_grace
    (outcome,) = result
    assert (outcome.ok, outcome.error_class) == (False, "stopped")
