"""Job kinds written for tests, registered like any plug-in."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from synchub.core.errors import InvalidInput
from synchub.core.runs import FileAction, FileChange, Progress, RunStats
from synchub.engines.base import Outcome, RunContext


class ScriptedKind:
    """A kind whose runs do what their params say: succeed, fail, or block until
    released or stopped. Each run is recorded, so tests can count executions."""

    kind = "scripted"

    def __init__(self) -> None:
        self.started: list[int] = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = threading.Semaphore(0)

    def validate(self, params: Mapping[str, Any], known_remotes: frozenset[str]) -> dict[str, Any]:
        result = params.get("result", "ok")
        if result not in ("ok", "fail", "fatal", "block", "lines"):
            raise InvalidInput(f"Bad result {result!r}")
        remotes = list(params.get("remotes", []))
        for r in remotes:
            if r not in known_remotes:
                raise InvalidInput(f"unknown remote {r!r}")
        return {"result": result, "remotes": remotes, "lines": int(params.get("lines", 0))}

    def remotes_used(self, params: Mapping[str, Any]) -> frozenset[str]:
        return frozenset(params.get("remotes", []))

    def run(self, ctx: RunContext) -> Outcome:
        with self.lock:
            self.started.append(ctx.run_id)
        self.running.release()
        result = ctx.params["result"]
        ctx.sink.log("info", f"attempt {ctx.attempt} of {ctx.job_name}")
        for i in range(ctx.params.get("lines", 0)):
            ctx.sink.log("info", f"line {i:06d} " + "x" * 40)
        if result == "block":
            while not (self.release.is_set() or ctx.stop.is_set()):
                ctx.sink.progress(Progress(bytes=1, total_bytes=2))
                ctx.stop.wait(0.01)
            if ctx.stop.is_set():
                return Outcome(ok=False, error_class="stopped", error="stopped")
        ctx.sink.file(FileChange("a.txt", FileAction.COPIED, 3))
        if result == "fail":
            return Outcome(ok=False, exit_code=5, error_class="temporary", error="boom")
        if result == "fatal":
            return Outcome(ok=False, exit_code=7, error_class="fatal", error="no", permanent=True)
        return Outcome(ok=True, exit_code=0, stats=RunStats(bytes=3, files=1))
