"""Guard: what the delete guard costs a sync, side by side with the same run unguarded.

The rclone engine runs the same job twice per pair, interleaved A B A B (the order
of each pair alternating): guarded (the default 50% guard: a preview listing, then
the sync limited to the previewed paths) and unguarded (`allow_deletes`: one plain
`rclone sync`, as before the guard). Engine wall clock, in this process; the
runner around it is the same for both. Cases:

- no-change: 2,000 small files already in sync (the preview finds nothing to do and
  the second pass is skipped);
- big: 20 × 50 MiB into an empty destination (emptied, outside the timing, before
  each run).

Goal: guarded ≤ unguarded × 1.05 + 50 ms (medians; the difference is also given as
the median of each pair's difference).
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from bench.common import Report, table
from bench.overhead import Params as DataParams
from bench.overhead import empty, make_big, make_small
from synchub.core.runs import FileChange, Progress
from synchub.engines.base import RunContext
from synchub.engines.rclone.engine import RcloneEngine

GOAL_PCT = 5.0
GOAL_MS = 50.0


@dataclass(frozen=True)
class Params:
    reps: int = 7  #: pairs per case
    data: DataParams = field(default_factory=DataParams)


FULL = Params()
QUICK = Params(reps=2, data=DataParams(big_files=4, small_files=300))


class NullSink:
    def log(self, level: str, message: str, fields: object = None) -> None: ...

    def progress(self, snapshot: Progress) -> None: ...

    def file(self, change: FileChange) -> None: ...


def timed(engine: RcloneEngine, src: Path, dst: Path, *, guarded: bool) -> float:
    params = engine.validate({"source": str(src), "destination": str(dst)}, frozenset())
    ctx = RunContext(run_id=1, job_name="bench", params=params, attempt=1, first_run=False,
                     remotes={}, sink=NullSink())  # fmt: skip
    ctx = replace(ctx, allow_deletes=not guarded)
    start = time.perf_counter()
    outcome = engine.run(ctx)
    elapsed = time.perf_counter() - start
    if not outcome.ok:
        raise RuntimeError(f"the sync failed: {outcome.error}")
    return elapsed


def measure(
    engine: RcloneEngine, src: Path, dst: Path, reps: int, *, fresh: bool
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"guarded": [], "unguarded": []}
    for rep in range(reps):
        order = (True, False) if rep % 2 == 0 else (False, True)
        for guarded in order:
            if fresh:
                empty(dst)
            samples["guarded" if guarded else "unguarded"].append(
                timed(engine, src, dst, guarded=guarded)
            )
    return samples


def run(quick: bool) -> Report:
    p = QUICK if quick else FULL
    rng = random.Random(p.data.seed)
    engine = RcloneEngine()
    cases: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="synchub-bench-guard-") as tmp:
        root = Path(tmp)
        small = make_small(root / "small", p.data, rng)
        small_dst = root / "small-dst"
        timed(engine, small, small_dst, guarded=False)  # in sync from here
        no_change = f"no-change {p.data.small_files:,} files"
        cases[no_change] = measure(engine, small, small_dst, p.reps, fresh=False)
        shutil.rmtree(small, ignore_errors=True)
        big = make_big(root / "big", p.data, rng)
        big_case = f"big {p.data.big_files} × {p.data.big_mib} MiB"
        cases[big_case] = measure(engine, big, root / "big-dst", p.reps, fresh=True)
    medians = {case: summary(s) for case, s in cases.items()}
    return Report("guard", asdict(p), {"cases": cases, "medians": medians}, lines(medians))


def summary(samples: dict[str, list[float]]) -> dict[str, float]:
    guarded, unguarded = samples["guarded"], samples["unguarded"]
    g, u = statistics.median(guarded), statistics.median(unguarded)
    diff = statistics.median(a - b for a, b in zip(guarded, unguarded, strict=True))
    return {"guarded_s": g, "unguarded_s": u, "pair_diff_s": diff,
            "limit_s": u * (1 + GOAL_PCT / 100) + GOAL_MS / 1000}  # fmt: skip


def lines(medians: dict[str, dict[str, float]]) -> list[str]:
    rows = [
        [
            case,
            f"{m['unguarded_s'] * 1000:.0f}",
            f"{m['guarded_s'] * 1000:.0f}",
            f"{m['pair_diff_s'] * 1000:+.0f}",
            f"{m['limit_s'] * 1000:.0f}",
            "met" if m["guarded_s"] <= m["limit_s"] else "MISSED",
        ]
        for case, m in medians.items()
    ]
    header = ["case (medians, ms)", "unguarded", "guarded", "pair diff", "limit", "goal"]
    return table(header, rows)
