"""`synchub --help` starts fast because it imports little (issue 16): no database
layer, settings, rich, Celery, Apprise or web framework until a command needs them.
Checked by what a fresh interpreter holds after the help is printed, not by time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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
sys.stderr.write("\\nMODULES " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
sys.exit(code)
"""


def loaded_after(*argv: str, home: str) -> tuple[int, str, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)],
        capture_output=True, text=True, env={"SYNCHUB_HOME": home, "PATH": ""},
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
