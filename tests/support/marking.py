"""A job kind for multi-process tests: each execution leaves a mark file, so a test can
count how many times a run really ran and when, across worker processes."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synchub.core.errors import InvalidInput
from synchub.engines.base import Outcome, RunContext


class MarkKind:
    """params: {"marks": "/abs/dir", "seconds": float, "remotes": [names],
    "fail_once": bool}. Writes `marks/<run id>.<pid>.<ns>` = "start end" (epoch s)."""

    kind = "mark"

    def validate(self, params: Mapping[str, Any], known_remotes: frozenset[str]) -> dict[str, Any]:
        marks = params.get("marks")
        if not isinstance(marks, str) or not marks.startswith("/"):
            raise InvalidInput("marks must be an absolute directory")
        remotes = [str(r) for r in params.get("remotes", [])]
        if unknown := set(remotes) - known_remotes:
            raise InvalidInput(f"unknown remotes {sorted(unknown)}")
        return {
            "marks": marks,
            "seconds": float(params.get("seconds", 0)),
            "remotes": remotes,
            "fail_once": bool(params.get("fail_once", False)),
        }

    def remotes_used(self, params: Mapping[str, Any]) -> frozenset[str]:
        return frozenset(params.get("remotes", []))

    def run(self, ctx: RunContext) -> Outcome:
        marks = Path(ctx.params["marks"])
        start = time.time()
        deadline = time.monotonic() + ctx.params["seconds"]
        while time.monotonic() < deadline and not ctx.stop.is_set():
            ctx.stop.wait(0.05)
        name = f"{ctx.run_id}.{os.getpid()}.{time.monotonic_ns()}"
        (marks / name).write_text(f"{start} {time.time()}")
        failed = ctx.params["fail_once"] and ctx.attempt == 1
        return Outcome(ok=not failed, error="failed on purpose" if failed else None)


def executions(marks: Path) -> dict[int, list[tuple[float, float]]]:
    """run id -> [(start, end)] of each execution recorded in `marks`."""
    found: dict[int, list[tuple[float, float]]] = {}
    for path in marks.iterdir():
        start, end = (float(x) for x in path.read_text().split())
        found.setdefault(int(path.name.split(".")[0]), []).append((start, end))
    return found
