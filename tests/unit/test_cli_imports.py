"""`synchub --help` starts fast because it imports little: no database layer,
settings, rich, Celery, Apprise or web framework until a command needs them; and a
listing imports only what reading the database takes. Checked by what a fresh
interpreter holds after the command, not by time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from synchub.services import Services
from synchub.services.jobs.fields import JobFields

#: Top-level packages a help or a parse error must not import.
HEAVY = (
    "sqlalchemy",
    "pydantic",
    "pydantic_settings",
    "rich",
    "celery",
    "kombu",
    "apprise",
    "fastapi",
    "starlette",
    "alembic",
    "cryptography",
)

PROBE = """
import json, sys
from synchub.cli import run_app
sys.argv = ["synchub", *json.loads(sys.argv[1])]
code = run_app()
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)))
sys.exit(code)
"""


def loaded_after(*argv: str, home: str, **env: str) -> tuple[int, str, set[str]]:
    """The exit code, what was printed, and the top-level packages imported."""
    code, shown, modules = modules_after(*argv, home=home, **env)
    return code, shown, {m.split(".")[0] for m in modules}


def modules_after(*argv: str, home: str, **env: str) -> tuple[int, str, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)],
        capture_output=True, text=True, env={"SYNCHUB_HOME": home, "PATH": "", **env},
        timeout=120,
    )  # fmt: skip
    errors, _, modules = proc.stderr.rpartition("\nMODULES ")
    return proc.returncode, proc.stdout + errors, set(json.loads(modules))


@pytest.mark.parametrize(
    "argv",
    [
        ("--help",),
        ("job", "--help"),
        ("job", "add", "--help"),
        ("runs", "list", "--help"),
        ("remote", "add", "--help"),
        ("token", "create", "--help"),
        ("alert", "--help"),
        ("serve", "--help"),
    ],
)
def test_help_imports_nothing_heavy(argv: tuple[str, ...], tmp_path: object) -> None:
    code, shown, modules = loaded_after(*argv, home=str(tmp_path))
    assert code == 0, shown
    assert "Usage:" in shown
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_a_command_that_needs_them_still_has_them(tmp_path: object) -> None:
    """The probe sees imports: a listing reads the database through SQLAlchemy."""
    code, shown, modules = loaded_after("job", "list", "--json", home=str(tmp_path))
    assert code == 2 and "synchub init" in shown  # no database yet: it says so
    assert {"sqlalchemy", "pydantic_settings"} <= modules


#: What a listing must not import, besides HEAVY's web, queue and alert packages:
#: migrations, secrets, HTTP clients, and rich (its output goes to a pipe here).
NOT_FOR_A_LISTING = (
    *(m for m in HEAVY if m not in ("sqlalchemy", "pydantic", "pydantic_settings")),
    "httpx",
    "jinja2",
    "ruamel",
    "uvicorn",
    "watchfiles",
    "prometheus_client",
)


@pytest.mark.parametrize(
    "argv", [("job", "list"), ("runs", "list"), ("runs", "list", "--limit", "5", "--job", "copy")]
)
def test_a_listing_imports_only_what_reading_takes(
    argv: tuple[str, ...], svc: Services, tmp_path: object
) -> None:
    params = {"op": "copy", "source": "/tmp/a", "destination": "/tmp/b"}
    svc.jobs.add("copy", JobFields(kind="rclone", params=params, every="1h"))
    svc.runs.request("copy")
    code, shown, modules = modules_after(
        *argv, home=str(tmp_path), SYNCHUB_DATABASE_URL=svc.settings.db_url
    )
    assert code == 0, shown
    assert "copy" in shown
    tops = {m.split(".")[0] for m in modules}
    assert not tops & set(NOT_FOR_A_LISTING), sorted(tops & set(NOT_FOR_A_LISTING))
    # Nor the scheduler's loop and the execution layer it brings.
    assert not {m for m in modules if m.startswith(("synchub.scheduler.loop", "synchub.execution"))}
    # No server, so no local socket to ask: nor its HTTP client (http.client, which
    # brings ssl and the e-mail parser).
    assert not {"http.client", "synchub.cli.socket_http"} & modules
    if "--limit" not in argv:  # options as typed: typer checks "5" through pydantic
        assert "typer._adapters" not in modules
