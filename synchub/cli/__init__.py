"""The `synchub` command line: `root` puts the command groups together (one module
each: `jobs`, `runs`, `remotes`, …) over `shared` (services, output, errors). Every
module imports its heavy dependencies inside the commands, so `synchub --help` stays
fast (tests/unit/test_cli_imports.py)."""

from synchub.cli.root import app, main, run_app

__all__ = ["app", "main", "run_app"]
