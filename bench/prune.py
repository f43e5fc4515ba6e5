"""Pruning a large history (issue 18): how long `synchub runs prune` takes over
`runs` runs (default 1,000,000), and the API's read latency while it goes.

For each database (SQLite in the home; PostgreSQL in a throw-away database on
SYNCHUB_BENCH_PG, dropped afterwards): the history of the API benchmark
(`bench/api_seed.py`: 1,000 jobs, or one per 1,000 runs with `--runs`; runs
spread over their schedules, 92 % succeeded, retry chains) plus `LOG_LINES` log
lines per run, then `synchub serve` (background pruning off:
`SYNCHUB_PRUNE_EVERY=0`). One client reads `/api/v1/runs?limit=50` and
`/api/v1/jobs/NAME` in turn, back to back: first for `baseline_s` alone, then
while `synchub runs prune` runs with the default rules (90 days or the last 100
runs per job; logs 30 days). Reported: the prune's wall time and what it
deleted, the reads' p50/p99/max in each phase (goal: p99 ≤ 100 ms while
pruning), and the database's size before and after (SQLite's file shrinks;
PostgreSQL keeps its pages for reuse).
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench.api import Database, on_each_database
from bench.api_seed import seed
from bench.common import SYNCHUB, Report, serve, summarize, table
from synchub.config import Settings
from synchub.services import Services
from synchub.store.db import make_engine
from synchub.store.migrate import upgrade

GOAL_P99_MS = 100.0
LOG_LINES = 2


@dataclass(frozen=True)
class Params:
    jobs: int = 1_000
    runs: int = 1_000_000
    baseline_s: float = 10.0


QUICK = Params(jobs=100, runs=20_000, baseline_s=2.0)


def _seed(db: Database, p: Params) -> dict[str, Any]:
    engine = make_engine(db.url)
    try:
        upgrade(engine)
        seeded = seed(engine, p.jobs, p.runs)
        started = time.perf_counter()
        with engine.begin() as conn:
            for seq in range(LOG_LINES):
                conn.exec_driver_sql(
                    "INSERT INTO run_logs (run_id, seq, at, level, message) "
                    f"SELECT id, {seq}, created_at, 'info', "
                    "'Transferred: 12.345 MiB / 12.345 MiB, 4.2 MiB/s, ETA 0s' FROM runs"
                )
        size = _size(db, engine)
    finally:
        engine.dispose()
    return {
        "seconds": seeded.seconds + time.perf_counter() - started,
        "runs": seeded.max_run_id - seeded.min_run_id + 1,
        "job_names": seeded.job_names,
        "database_mib": size / 2**20,
    }


def _size(db: Database, engine: Any) -> int:
    if db.kind == "sqlite":
        return sum(f.stat().st_size for f in db.home.path.glob("synchub.db*"))
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())


class Reader:
    """One client reading back to back until stopped; latencies in ms by phase."""

    def __init__(self, base: str, token: str, names: list[str]) -> None:
        self.client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        rng = random.Random(7)
        self.paths = [
            p for n in rng.sample(names, min(200, len(names))) for p in
            ("/api/v1/runs?limit=50", f"/api/v1/jobs/{n}")
        ]  # fmt: skip
        self.phase = "baseline"
        self.latencies: dict[str, list[float]] = {}
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        i = 0
        while not self._stop.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            start = time.perf_counter()
            response = self.client.get(path)
            took = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                self.errors += 1
            self.latencies.setdefault(self.phase, []).append(took)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.client.close()


def run_database(db: Database, p: Params) -> dict[str, Any]:
    print(f"{db.kind}: seeding {p.runs:,} runs ...", flush=True)
    db.home.cli("init")  # the schema and the secret key `serve` needs
    seeded = _seed(db, p)
    settings = Settings(home=db.home.path, database_url=db.url, default_tz="UTC")
    svc = Services(settings, actor="bench")
    try:
        token, _view = svc.tokens.create("bench", "viewer")
    finally:
        svc.close()
    db.home.env["SYNCHUB_PRUNE_EVERY"] = "0"
    print(f"{db.kind}: seeded in {seeded['seconds']:.0f} s; pruning ...", flush=True)
    with (
        serve(db.home) as server,
        Reader(f"http://127.0.0.1:{server.port}", token, seeded["job_names"]) as reader,
    ):
        time.sleep(p.baseline_s)
        reader.phase = "pruning"
        started = time.perf_counter()
        done = subprocess.run(
            [SYNCHUB, "runs", "prune"], env=db.home.env, capture_output=True, text=True, check=True
        )
        took = time.perf_counter() - started
        reader.phase = "after"
    engine = make_engine(db.url)
    try:
        size = _size(db, engine)
    finally:
        engine.dispose()
    pruning = summarize(reader.latencies.get("pruning", []))
    print(f"{db.kind}: pruned in {took:.0f} s, reads p99 {pruning.get('p99', 0):.1f} ms: "
          f"{done.stdout.strip()}", flush=True)  # fmt: skip
    return {
        "seed": {k: v for k, v in seeded.items() if k != "job_names"},
        "prune_s": took,
        "prune_said": done.stdout.strip(),
        "database_mib_after": size / 2**20,
        "reads": {phase: summarize(v) for phase, v in reader.latencies.items()},
        "read_errors": reader.errors,
    }


def run(quick: bool, *, runs: int | None = None, databases: tuple[str, ...] = ()) -> Report:
    p = QUICK if quick else Params()
    if runs is not None:
        # The shape of the million: about 1,000 runs per job.
        p = Params(jobs=max(10, runs // 1000), runs=runs, baseline_s=p.baseline_s)
    results, notes = on_each_database(databases, lambda db: run_database(db, p))
    return Report("prune", asdict(p), {"databases": results, "notes": notes},
                  summary(p, results, notes))  # fmt: skip


def summary(p: Params, results: dict[str, Any], notes: list[str]) -> list[str]:
    lines = [f"prune: {p.runs:,} runs of {p.jobs:,} jobs, {LOG_LINES} log lines each", ""]
    rows = []
    for kind, r in results.items():
        pruning, base = r["reads"].get("pruning", {}), r["reads"].get("baseline", {})
        met = "met" if pruning.get("p99", 1e9) <= GOAL_P99_MS else "MISSED"
        rows.append([
            kind, f"{r['prune_s']:.0f} s",
            f"{base.get('p50', 0):.1f} / {base.get('p99', 0):.1f}",
            f"{pruning.get('p50', 0):.1f} / {pruning.get('p99', 0):.1f} / "
            f"{pruning.get('max', 0):.0f} ({pruning.get('n', 0)} reads)",
            f"{r['seed']['database_mib']:.0f} -> {r['database_mib_after']:.0f} MiB", met,
        ])  # fmt: skip
    lines += table(
        ["db", "prune", "reads before p50/p99 ms", "reads while pruning p50/p99/max ms",
         "size", f"p99 <= {GOAL_P99_MS:.0f} ms"],
        rows,
    )  # fmt: skip
    for kind, r in results.items():
        lines.append(f"{kind}: {r['prune_said']}")
    return lines + notes
