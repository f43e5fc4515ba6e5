"""What a worker's processes (and `serve`) import, measured in a fresh interpreter: each
module here costs MiBs in every process of a prefork worker (bench/RESULTS.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: Never in a worker's process: the command line, Celery's command line, the API, the
#: services a runner does not call and (without secrets) cryptography; watchfiles only
#: where folders are watched.
NOT_IN_A_WORKER = (
    "synchub.services.audit",
    "synchub.services.jobs",  # a job's environment is unsealed by Services.job_env
    "synchub.services.sizes",
    "synchub.services.tasks",
    "synchub.services.tokens",
    "typer",
    "rich",
    "synchub.cli",
    "celery.bin.celery",
    "click_repl",
    "prompt_toolkit",
    "fastapi",
    "uvicorn",
    "cryptography",
    "watchfiles",
)


def imported(code: str, home: Path) -> set[str]:
    env = {"SYNCHUB_HOME": str(home), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def found(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


WORKER = """
from synchub.processes.celery_worker import import_for_runs
from synchub.config import Settings
import_for_runs(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"), crypto={})
"""


def test_a_worker_imports_before_forking_what_runs_need_and_nothing_else(tmp_path: Path) -> None:
    modules = imported(WORKER.format(False), tmp_path)
    assert found(modules, NOT_IN_A_WORKER) == []
    # What each pool process's runner uses, imported once before the fork:
    for name in (
        "psycopg",
        "synchub.processes.runners",
        "synchub.engines.command",
        "synchub.engines.rclone",
        "synchub.services.remotes",
    ):
        assert name in modules


def test_a_worker_imports_cryptography_before_forking_when_remotes_have_secrets(
    tmp_path: Path,
) -> None:
    modules = imported(WORKER.format(True), tmp_path)
    assert "cryptography.fernet" in modules
    assert "cryptography.hazmat.primitives.ciphers" in modules


def test_serve_imports_no_cryptography_until_a_secret_is_used(tmp_path: Path) -> None:
    modules = imported(
        "import synchub.api.app, synchub.cli.launch, synchub.processes.node", tmp_path
    )
    assert found(modules, ("cryptography", "watchfiles", "celery")) == []
