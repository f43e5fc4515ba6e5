"""Running a job's hooks: each command in its own process group, never through a
shell, with the run's context in a minimal environment, a timeout, and its output
in the run's log; each webhook as one POST of the run's context (JSON), within its
timeout, redirects not followed, only its status logged."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from synchub.core.hooks import SKIP_EXIT, Hook, HookContext, OnError
from synchub.engines.base import RunSink
from synchub.engines.process import minimal_env, spawn, stream_lines
from synchub.execution.webhooks import post


@dataclass(frozen=True)
class HookResult:
    """What the hooks of one event decided."""

    ok: bool = True  #: False: a hook whose policy is `fail` failed
    skip: bool = False  #: a before hook exited 75: skip the run
    error: str | None = None  #: why (the hook's last line, or how it ended)


PASSED = HookResult()


def run_hooks(
    hooks: list[Hook],
    ctx: HookContext,
    sink: RunSink,
    stop: threading.Event,
    *,
    grace_s: float,
) -> HookResult:
    """Run `hooks` (all of one event) in order. Stops at the first that fails with
    policy `fail`, or at a before hook's exit 75 (then the rest are not run: the
    run is skipped). A failing `continue` hook is logged and the next one runs."""
    for hook in hooks:
        code, why = _run_one(hook, ctx, sink, stop, grace_s)
        if code == 0:
            continue
        if code == SKIP_EXIT and hook.event.value == "before" and not hook.is_webhook:
            sink.log("info", f"{hook.label()} asked to skip the run (exit {SKIP_EXIT}): {why}")
            return HookResult(ok=True, skip=True, error=why)
        sink.log("error", f"{hook.label()} failed: {why}")
        if hook.on_error is OnError.FAIL:
            return HookResult(ok=False, error=f"{hook.label()} failed: {why}")
    return PASSED


def _run_one(
    hook: Hook, ctx: HookContext, sink: RunSink, stop: threading.Event, grace_s: float
) -> tuple[int, str]:
    """Run one hook to its end, its timeout, or `stop`: its exit code (-1 when it did
    not start or was stopped) and, unless 0, why, for people."""
    if stop.is_set():
        return -1, "not started: the run was stopped"
    sink.log("info", f"{hook.label()} started")
    if hook.is_webhook:
        return post(hook, ctx)
    try:
        proc = spawn(hook.argv, env=minimal_env(ctx.env(hook.event)))
    except OSError as exc:
        return -1, f"cannot start {hook.argv[0]!r}: {exc.strerror or exc}"
    deadline = time.monotonic() + hook.timeout_s
    last = ""
    for stream, line in stream_lines(proc, stop, grace_s=grace_s, deadline=deadline):
        sink.log("info", f"[{hook.event.value}] {line}", {"stream": stream})
        if line.strip():
            last = line.strip()
    code = proc.returncode
    if code == 0:
        return 0, ""
    if stop.is_set():
        return -1, "stopped with the run"
    if time.monotonic() >= deadline:
        return -1, f"timed out after {hook.timeout_s}s; stopped"
    if code < 0:
        return code, f"killed by signal {-code}"
    return code, last or f"exited with code {code}"
