"""The rclone engine: one rclone process per run, its JSON log parsed live.

A run is `rclone <op> SRC DST --filter=... <options> -v --use-json-log
--stats 1s ...`, its remotes given in its environment (see `environment`)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from synchub.core.errors import (
    EngineError,
    InvalidInput,
    InvalidOption,
    InvalidPath,
    Problems,
    blame,
)
from synchub.engines.base import Outcome, RemoteConfig, RunContext
from synchub.engines.process import exec_size_problem, spawn, stream_lines
from synchub.engines.rclone import window
from synchub.engines.rclone.backends import rclone_binary, referenced_remotes
from synchub.engines.rclone.environment import rclone_env, secret_values
from synchub.engines.rclone.exits import outcome_for
from synchub.engines.rclone.flags import flag_name, normalize_options
from synchub.engines.rclone.log import RcloneLog
from synchub.engines.rclone.params import (
    OPS,
    PARAMS,
    check_filters,
    checked_location,
    normalize_filter,
    parse_location,
    string_list,
)
from synchub.engines.rclone.probe import check_remote
from synchub.engines.rclone.safety import SafeRun
from synchub.engines.rclone.safety_settings import validate as validate_safety

#: What synchub adds to every run: JSON log lines on stderr, stats every second.
LOG_ARGS = (
    "-v",
    "--use-json-log",
    "--stats",
    "1s",
    "--stats-log-level",
    "NOTICE",
    "--color",
    "NEVER",
)


class RcloneEngine:
    """Engine for `rclone` jobs: sync, copy, move, check and bisync."""

    kind = "rclone"
    starts_programs = False  #: rclone only; remotes that would start one are refused

    def __init__(
        self,
        binary: str | None = None,
        *,
        kill_grace: float = 5.0,
        allow_programs: bool = False,
        bwlimit: str = "",
    ) -> None:
        self._binary = binary
        #: SYNCHUB_BWLIMIT: --bwlimit of runs whose job sets none (checked by Settings)
        self.bwlimit = bwlimit
        self.kill_grace = kill_grace  #: seconds between SIGTERM and SIGKILL on stop
        #: SYNCHUB_ALLOW_COMMAND_JOBS: rclone may read the AWS files (see rclone_env)
        self.allow_programs = allow_programs

    @property
    def binary(self) -> str:
        return self._binary or rclone_binary()

    def validate(self, params: Mapping[str, Any], known_remotes: frozenset[str]) -> dict[str, Any]:
        """Normalised parameters; InvalidInput (or a subclass) naming what is wrong.

        Keys: op (sync|copy|move|check|bisync, default sync), source and
        destination (remote:path with a known remote, or an absolute local
        path; not the same place), filters ("+ PAT"/"- PAT", checked by
        rclone), options (from flags' allow-list), and the safety
        settings of safety_settings.validate. The result validates again unchanged.
        """
        unknown = sorted(set(params) - PARAMS)
        if unknown:
            raise InvalidInput(
                f"Unknown parameter {unknown[0]!r} for an rclone job; "
                f"known: {', '.join(sorted(PARAMS))}"
            )
        # Each input is checked on its own, so a form can show every problem by its field.
        problems = Problems()
        op = params.get("op", "sync")
        with problems.about("op"):
            if op not in OPS:
                raise InvalidInput(f"Bad op {op!r}: use one of {', '.join(OPS)}")
        source = destination = None
        with problems.about("source"):
            source = checked_location(params.get("source"), "source", known_remotes)
        with problems.about("destination"):
            destination = checked_location(params.get("destination"), "destination", known_remotes)
            if source is not None and source.key() == destination.key():
                raise InvalidPath(f"The source and the destination are the same: {source}")
        filters: list[str] = []
        with problems.about("filters"):
            filters = [normalize_filter(r) for r in string_list(params.get("filters"), "filters")]
        options: list[str] = []
        with problems.about("options"):
            options = normalize_options(string_list(params.get("options"), "options"), op)
        safety: dict[str, Any] = {}
        with problems.about("delete_guard"):
            safety = validate_safety({**params, "options": options}, op)
        problems.raise_any()
        assert source is not None and destination is not None
        pieces = [str(source), str(destination), *(f"--filter={f}" for f in filters), *options]
        problem = exec_size_problem(pieces, "the paths, filters and options")
        if problem is not None:
            raise InvalidOption(f"Too much for rclone's command line: {problem}", field="options")
        with blame("filters"):
            check_filters(filters, self.binary)
        return {
            "op": op,
            "source": str(source),
            "destination": str(destination),
            "filters": filters,
            "options": options,
            **safety,
        }

    def remotes_used(self, params: Mapping[str, Any]) -> frozenset[str]:
        """Remote names in the source and destination (wrapped remotes not included)."""
        names = set()
        for key in ("source", "destination"):
            value = params.get(key)
            if isinstance(value, str):
                try:
                    remote = parse_location(value).remote
                except InvalidPath:
                    continue
                if remote is not None:
                    names.add(remote)
        return frozenset(names)

    def argv(
        self,
        params: Mapping[str, Any],
        *,
        first_run: bool,
        timeout_s: int | None = None,
        window_s: int | None = None,
    ) -> list[str]:
        """The rclone command line of a run with validated `params`."""
        op = params.get("op", "sync")
        options = list(params.get("options", []))
        argv = [self.binary, op, params["source"], params["destination"]]
        argv += [f"--filter={rule}" for rule in params.get("filters", [])]
        argv += options
        if self.bwlimit and not any(o.startswith("--bwlimit=") for o in options):
            argv.append(f"--bwlimit={self.bwlimit}")
        argv += LOG_ARGS
        if op == "bisync" and first_run:
            argv.append("--resync")  # bisync refuses to start without listings
        max_duration = _max_duration(op, options, timeout_s)
        closing = window.closes_first(op, options, max_duration, window_s)
        if closing is not None:
            argv += window.args(options, closing)
        elif max_duration is not None:
            argv.append(f"--max-duration={max_duration}s")
        return argv

    def run(self, ctx: RunContext) -> Outcome:
        """Run rclone to its end, or until `ctx.stop` (then within `kill_grace`)."""
        if ctx.stop.is_set():
            return Outcome(ok=False, error_class="stopped", error="stopped before it started")
        try:
            env = rclone_env(ctx.remotes, allow_programs=self.allow_programs)
        except EngineError as exc:
            return Outcome(ok=False, error_class="config", error=str(exc), permanent=True)
        _warn_missing_references(ctx)
        log = RcloneLog(
            ctx.sink,
            secrets=secret_values(ctx.remotes, env),
            sides={k: ctx.params[k] for k in ("source", "destination") if k in ctx.params},
        )
        argv = self.argv(
            ctx.params, first_run=ctx.first_run, timeout_s=ctx.timeout_s, window_s=ctx.window_s
        )
        op, options = ctx.params.get("op", "sync"), list(ctx.params.get("options", []))
        timeout_at = _max_duration(op, options, ctx.timeout_s)
        closing = window.closes_first(op, options, timeout_at, ctx.window_s)
        timeout_set = closing is None and timeout_at is not None
        safe = SafeRun(ctx, env, log, self.binary, self.kill_grace)
        if closing is None:
            return safe.run(argv, lambda args: self._execute(args, env, log, ctx, timeout_set))
        closes = window.deadline(closing)
        return window.closed(
            safe.run(
                argv, lambda args: self._execute(window.left(args, closes), env, log, ctx, False)
            )
        )

    def _execute(
        self,
        argv: list[str],
        env: dict[str, str],
        log: RcloneLog,
        ctx: RunContext,
        timeout_set: bool,
    ) -> Outcome:
        """Run one rclone process to its end (or `ctx.stop`); its log goes to `log`."""
        started = time.monotonic()
        try:
            proc = spawn(argv, env=env)
        except OSError as exc:
            return Outcome(
                ok=False,
                error_class="not_found",
                error=f"cannot start rclone: {exc}",
                permanent=True,
            )
        ctx.sink.log("debug", f"rclone started (pid {proc.pid})")
        for stream, line in stream_lines(proc, ctx.stop, grace_s=self.kill_grace):
            log.feed(stream, line)
        log.finish()
        stats = log.run_stats(time.monotonic() - started)
        return outcome_for(
            proc.returncode, log, stats, stopped=ctx.stop.is_set(), timeout_set=timeout_set
        )

    def test_remote(self, remote: RemoteConfig, timeout_s: float = 15) -> tuple[bool, str]:
        """See `check_remote`."""
        return check_remote(
            remote,
            timeout_s,
            binary=self._binary,
            grace_s=self.kill_grace,
            allow_programs=self.allow_programs,
        )


def _max_duration(op: str, options: list[str], timeout_s: int | None) -> int | None:
    """--max-duration seconds to pass for a job timeout, or None.

    Set a little before the runner's own deadline, so rclone stops on its own,
    with final stats, rather than being killed. Only for sync/copy/move: a
    check has nothing to cut short, and a bisync cut short needs recovery.
    Never when the user chose their own --max-duration, or for very short timeouts.
    """
    if timeout_s is None or op not in ("sync", "copy", "move"):
        return None
    if any(flag_name(o) == "--max-duration" for o in options):
        return None
    margin = min(60, max(2, timeout_s // 20))
    return timeout_s - margin if timeout_s - margin >= 5 else None


def _warn_missing_references(ctx: RunContext) -> None:
    for name, remote in ctx.remotes.items():
        for missing in sorted(referenced_remotes(remote.options) - set(ctx.remotes)):
            ctx.sink.log(
                "error", f"remote {name!r} uses remote {missing!r}, which this run was not given"
            )
