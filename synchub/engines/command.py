"""The command engine: run an argv (restic, a tape script...) as a job.

Whether command jobs may be saved and run at all is the admin's decision
(`starts_programs`, checked by the services and the runner); this engine only
validates and runs them. The argv is
executed directly, never through a shell, with a minimal environment plus
the job's own variables.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from synchub.core.errors import InvalidInput, InvalidPath
from synchub.core.runs import RunStats
from synchub.engines.base import Outcome, RunContext
from synchub.engines.process import exec_size_problem, minimal_env, spawn, stream_lines

PARAMS = frozenset({"argv", "env", "cwd"})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TERM_CODES = frozenset({-15, -9, 143, 137})  # what SIGTERM / SIGKILL leave behind


def _argv(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("argv must be a non-empty list of strings")
    for arg in value:
        if not isinstance(arg, str) or "\0" in arg:
            raise InvalidInput("argv must be a list of strings without NUL characters")
    if not value[0].strip():
        raise InvalidInput("argv[0], the program, must not be empty")
    return list(value)


def _env(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("env must be an object of NAME: value strings")
    for name, text in value.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise InvalidInput(f"Bad environment variable name {name!r}")
        if not isinstance(text, str) or "\0" in text:
            raise InvalidInput(f"The value of {name} must be a string without NUL characters")
    return dict(value)


def _cwd(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/") or "\0" in value:
        raise InvalidPath("cwd must be an absolute path")
    return value


class CommandEngine:
    """Engine for `command` jobs: params {"argv": [...], "env": {...}, "cwd": "/abs" | None}."""

    kind = "command"
    starts_programs = True  #: its jobs run any program: only where command jobs are allowed

    def __init__(self, *, kill_grace: float = 5.0) -> None:
        self.kill_grace = kill_grace  #: seconds between SIGTERM and SIGKILL on stop

    def validate(self, params: Mapping[str, Any], known_remotes: frozenset[str]) -> dict[str, Any]:
        """Normalised parameters; InvalidInput naming the bad one.

        argv: non-empty list of strings; env: string to string, names like
        shell variables; cwd: an absolute path or None. Whether the program
        exists is found out when it runs (it may run on another worker).
        """
        del known_remotes  # commands reach storage their own way
        unknown = sorted(set(params) - PARAMS)
        if unknown:
            raise InvalidInput(f"Unknown parameter {unknown[0]!r} for a command job")
        argv, env = _argv(params.get("argv")), _env(params.get("env"))
        strings = [*argv, *(f"{name}={value}" for name, value in env.items())]
        problem = exec_size_problem(strings, "the arguments and environment values")
        if problem is not None:
            raise InvalidInput(f"Too much for one command line: {problem}")
        return {"argv": argv, "env": env, "cwd": _cwd(params.get("cwd"))}

    def remotes_used(self, params: Mapping[str, Any]) -> frozenset[str]:
        return frozenset()

    def run(self, ctx: RunContext) -> Outcome:
        """Run the command to its end, or until `ctx.stop` (then within `kill_grace`).

        stdout and stderr lines go to the log (field "stream" says which).
        Exit 0 is success; anything else is a failure a retry may fix.
        """
        if ctx.stop.is_set():
            return Outcome(ok=False, error_class="stopped", error="stopped before it started")
        params = ctx.params
        env = minimal_env(params.get("env") or {})
        started = time.monotonic()
        try:
            proc = spawn(params["argv"], env=env, cwd=params.get("cwd"))
        except OSError as exc:
            return Outcome(
                ok=False,
                error_class="not_found",
                error=f"cannot start {params['argv'][0]!r}: {exc.strerror or exc}",
                permanent=True,
            )
        last_stderr = ""
        for stream, line in stream_lines(proc, ctx.stop, grace_s=self.kill_grace):
            ctx.sink.log("info", line, {"stream": stream})
            if stream == "stderr" and line.strip():
                last_stderr = line.strip()
        stats = RunStats(elapsed_s=time.monotonic() - started)
        return _outcome(proc.returncode, last_stderr, stats, stopped=ctx.stop.is_set())


def _outcome(code: int, last_stderr: str, stats: RunStats, *, stopped: bool) -> Outcome:
    if code == 0:
        return Outcome(ok=True, exit_code=0, stats=stats)
    if stopped and code in _TERM_CODES:
        return Outcome(
            ok=False, exit_code=code, error_class="stopped", error="stopped", stats=stats
        )
    if code < 0:
        return Outcome(
            ok=False,
            exit_code=code,
            error_class="killed",
            error=f"the command was killed by signal {-code}",
            stats=stats,
        )
    return Outcome(
        ok=False,
        exit_code=code,
        error_class="temporary",
        error=last_stderr or f"the command exited with code {code}",
        stats=stats,
    )
