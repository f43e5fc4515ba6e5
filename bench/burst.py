"""Burst: many jobs due at the same instant (issue 16), how late each run is durably
queued — handed to the executor after the transaction that queued it committed.

N no-op jobs (100, then 1,000) all due at one whole second, an in-process scheduler
on the real clock firing 0.1 s ahead as `serve` does, an executor with room for
every run. Each trial is a process of its own (`bench/burst_child.py`), on SQLite
and on PostgreSQL (`SYNCHUB_BENCH_PG`, as `api`; skipped when not reachable).

Then, for 100 jobs, the same with the local pool as the executor, with as many
threads as jobs: how late each run's claim returned (committed) after its fire time.

`SYNCHUB_BENCH_BASELINE=DIR` (a checkout, e.g. `git archive main | tar -x -C DIR`)
measures that tree's synchub too, its trials interleaved with this tree's. Goals:
queued within p99 50 ms for 100 jobs, 500 ms for 1,000; claimed within p99 100 ms
for 100.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.api import PG_DEFAULT, postgres_database, postgres_reachable, sqlite_database
from bench.common import REPO, Report, percentile, table

GOALS_MS = {100: 50.0, 1000: 500.0}
CLAIM_GOALS_MS = {100: 100.0}
CHILD = Path(__file__).with_name("burst_child.py")


@dataclass(frozen=True)
class Params:
    sizes: tuple[int, ...] = (100, 1000)
    claim_sizes: tuple[int, ...] = (100,)  #: with the local pool, one thread per job
    reps: int = 3  #: trials per size, database and tree


FULL = Params()
QUICK = Params(sizes=(100,), reps=1)


@contextmanager
def database(kind: str, pg_base: str) -> Iterator[tuple[str, Path]]:
    maker = sqlite_database() if kind == "sqlite" else postgres_database(pg_base)
    with maker as db:
        yield db.url, db.home.path


def trial(tree: Path, n: int, kind: str, pg_base: str, mode: str = "queue") -> list[float]:
    """The lateness of each run, in ms: handed over (`queue`), or claimed (`claim`)."""
    with database(kind, pg_base) as (url, home):
        env = {**os.environ, "PYTHONPATH": str(tree)}
        done = subprocess.run(
            [sys.executable, str(CHILD), str(n), url, str(home), mode],
            env=env, capture_output=True, text=True, check=True, cwd=tree, timeout=600,
        )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["handed"] != n:
        raise RuntimeError(f"{tree}: {result['handed']} of {n} runs handed over")
    late = result["claim_ms"] if mode == "claim" else result["late_ms"]
    if len(late) != n:
        raise RuntimeError(f"{tree}: {len(late)} of {n} runs {mode}ed")
    return [float(x) for x in late]


def run(quick: bool) -> Report:
    p = QUICK if quick else FULL
    trees = {"this": REPO}
    if baseline := os.environ.get("SYNCHUB_BENCH_BASELINE"):
        trees = {"baseline": Path(baseline).resolve(), **trees}
    pg_base = os.environ.get("SYNCHUB_BENCH_PG", PG_DEFAULT)
    kinds = ["sqlite"]
    notes: list[str] = []
    if (why := postgres_reachable(pg_base)) is None:
        kinds.append("postgresql")
    else:
        notes.append(f"postgresql skipped: not reachable at {pg_base} ({why})")
    samples: dict[str, list[float]] = {}
    for n in p.sizes:
        for kind in kinds:
            for _ in range(p.reps):
                for label, tree in trees.items():  # interleaved, trial by trial
                    key = f"{n} jobs, {kind}, {label}"
                    samples.setdefault(key, []).extend(trial(tree, n, kind, pg_base))
    for n in p.claim_sizes:
        for kind in kinds:
            for _ in range(p.reps):
                for label, tree in trees.items():
                    key = f"{n} jobs claimed, {kind}, {label}"
                    samples.setdefault(key, []).extend(trial(tree, n, kind, pg_base, "claim"))
    figures = {key: _figures(v) for key, v in samples.items()}
    return Report("burst", {**asdict(p), "trees": {k: str(v) for k, v in trees.items()}},
                  {"late_ms": samples, "figures": figures, "notes": notes},
                  [*_lines(figures), *notes])  # fmt: skip


def _figures(late: list[float]) -> dict[str, float]:
    return {"p50": percentile(late, 50), "p99": percentile(late, 99), "max": max(late)}


def _lines(figures: dict[str, dict[str, float]]) -> list[str]:
    rows = []
    for key, f in figures.items():
        goals = CLAIM_GOALS_MS if " claimed," in key else GOALS_MS
        goal = goals.get(int(key.split()[0]))
        verdict = "" if goal is None else ("met" if f["p99"] <= goal else "MISSED")
        rows.append([key, f"{f['p50']:.1f}", f"{f['p99']:.1f}", f"{f['max']:.1f}", verdict])
    header = ["queued (or claimed) after its fire time, ms", "p50", "p99", "max", "goal"]
    return table(header, rows)
