"""A job kind for chaos tests: like `MarkKind`, but it marks the start of an execution as
well as its end, so an execution killed half-way still leaves a trace, and a run started
twice shows two starts even when neither finished.

Marks, in `marks/` (each written whole, by a rename, so a kill never leaves half a file):

- `<run id>.<pid>.<ns>.start` = "<epoch s>", the moment the execution began;
- `<run id>.<pid>.<ns>.end` = "<epoch s> done|stopped", the moment it ended, and whether
  it ran its full length or was told to stop (a cancel, or the runner finding the run
  no longer its own: a run declared lost while its worker was in fact alive).

`<pid>` is the process that executed the run: a Celery pool process, whose parent is the
worker's main process.

With `"child": true` the execution also keeps a `sleep` child process for its whole
length, started the way rclone is (own process group, PR_SET_PDEATHSIG), with
SYNCHUB_CHAOS_CHILD=<run id> in its environment so a test can find it in /proc.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synchub.core.errors import InvalidInput
from synchub.engines.base import Outcome, RunContext
from synchub.engines.process import minimal_env, spawn, terminate

#: The variable that marks a chaos execution's child process.
CHILD_ENV = "SYNCHUB_CHAOS_CHILD"


class ChaosKind:
    """params: {"marks": "/abs/dir", "seconds": float, "child": bool}."""

    kind = "chaos"

    def validate(self, params: Mapping[str, Any], known_remotes: frozenset[str]) -> dict[str, Any]:
        marks = params.get("marks")
        if not isinstance(marks, str) or not marks.startswith("/"):
            raise InvalidInput("marks must be an absolute directory")
        seconds = float(params.get("seconds", 0))
        if seconds < 0:
            raise InvalidInput("seconds must not be negative")
        return {"marks": marks, "seconds": seconds, "child": bool(params.get("child", False))}

    def remotes_used(self, params: Mapping[str, Any]) -> frozenset[str]:
        return frozenset()

    def run(self, ctx: RunContext) -> Outcome:
        marks = Path(ctx.params["marks"])
        token = f"{ctx.run_id}.{os.getpid()}.{time.monotonic_ns()}"
        _write(marks, f"{token}.start", f"{time.time()}")
        child: subprocess.Popen[bytes] | None = None
        if ctx.params["child"]:
            child = spawn(
                ["sleep", "600"],
                env=minimal_env({CHILD_ENV: str(ctx.run_id)}),
                capture_stdout=False,
            )
        deadline = time.monotonic() + ctx.params["seconds"]
        while time.monotonic() < deadline and not ctx.stop.is_set():
            ctx.stop.wait(0.02)
        stopped = ctx.stop.is_set()
        if child is not None:
            terminate(child, 1.0)
            if child.stderr is not None:
                child.stderr.close()
        _write(marks, f"{token}.end", f"{time.time()} {'stopped' if stopped else 'done'}")
        if stopped:
            return Outcome(ok=False, error_class="stopped", error="stopped on request")
        return Outcome(ok=True, exit_code=0)


def _write(marks: Path, name: str, text: str) -> None:
    part = marks / f".{name}.part"
    part.write_text(text)
    part.rename(marks / name)


@dataclass
class Execution:
    """One execution of a run, as its marks tell it."""

    run_id: int
    pid: int  #: the process that executed it
    start: float  #: epoch seconds
    end: float | None = None  #: None: it never ended (its process was killed)
    stopped: bool = False  #: it ended early, told to stop

    @property
    def finished(self) -> bool:
        return self.end is not None and not self.stopped

    @property
    def end_reason(self) -> str:
        """How it ended: killed (no end mark), stopped or done."""
        return "killed" if self.end is None else "stopped" if self.stopped else "done"


@dataclass
class Ledger:
    """Every execution recorded in a marks directory, by run id."""

    by_run: dict[int, list[Execution]] = field(default_factory=dict)

    def of(self, run_id: int) -> list[Execution]:
        return self.by_run.get(run_id, [])

    def all(self) -> list[Execution]:
        return [e for executions in self.by_run.values() for e in executions]


def read_ledger(marks: Path) -> Ledger:
    """The executions recorded in `marks` so far (files being written are left out)."""
    for _ in range(3):
        ledger, orphan_ends = _read(marks)
        if not orphan_ends:
            return ledger
        time.sleep(0.1)  # a listing taken during a rename can miss a file: look again
    raise AssertionError(f"end marks without a start: {orphan_ends}")


def _read(marks: Path) -> tuple[Ledger, list[str]]:
    starts: dict[str, Execution] = {}
    ends: dict[str, tuple[float, bool]] = {}
    for path in marks.iterdir():
        if path.name.startswith("."):
            continue
        token, _, what = path.name.rpartition(".")
        run_id, pid, _ns = token.split(".")
        words = path.read_text().split()
        if what == "start":
            starts[token] = Execution(int(run_id), int(pid), float(words[0]))
        elif what == "end":
            ends[token] = (float(words[0]), words[1] == "stopped")
    ledger = Ledger()
    for token, execution in sorted(starts.items(), key=lambda kv: kv[1].start):
        if token in ends:
            execution.end, execution.stopped = ends.pop(token)
        ledger.by_run.setdefault(execution.run_id, []).append(execution)
    return ledger, sorted(ends)
