"""Fire lateness in `synchub serve`: how long after its fire time a run starts.

Three loads, each on its own server and database, every job firing every 1 s:
one no-op job (a baseline), 100 jobs of a no-op plug-in kind, and 5 rclone jobs
syncing a tiny local folder. All jobs of a load share one anchor on a whole
second, so their fire times are the wall-clock grid and they all fire at once
(the worst case, as with cron jobs all due at the top of a minute). The jobs are
defined while the server runs, a few seconds before the anchor; the window
measured is the `duration_s` seconds after it. Per run that ran, from the
database, each as (time - scheduled_for):

- fired: created_at, when the scheduler began firing it;
- queued: queued_at, when it was handed to the local pool;
- claimed: started_at, when a worker began claiming it (the figure the goal is
  about; read before the claim waits for SQLite's write lock);
- rclone spawned: the log line written right after rclone was started;
- finished: finished_at.

Drift: are all scheduled_for values on the grid, is any fire time missing, and
does lateness grow over the window (per-10-s medians, least-squares slope)?
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    REPO,
    SPAWN_LINE,
    Home,
    Report,
    cpu_seconds,
    seconds_between,
    serve,
    status_field,
    summarize,
    synchub_home,
    table,
)
from bench.noop_kind import NoopKind
from synchub.core.clock import FakeClock
from synchub.engines.registry import builtin_engines
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.services.run_views import RunView

GOAL_P99_MS = 5.0
SECOND = timedelta(seconds=1)
#: (label, run field) of each delay measured from scheduled_for
DELAYS = (
    ("fired", "created_at"),
    ("queued", "queued_at"),
    ("claimed", "started_at"),
    ("rclone spawned", "spawned_at"),
    ("finished", "finished_at"),
)


@dataclass(frozen=True)
class Params:
    duration_s: int = 60
    noop_jobs: int = 100
    single_jobs: int = 1  #: a baseline load: one no-op job, nothing to queue behind
    rclone_jobs: int = 5
    workers: int = 16  #: `serve --workers`
    lead_s: int = 5  #: seconds from defining the jobs to the anchor, at least
    tail_s: int = 3  #: seconds the server runs on after the window, for the last runs


FULL = Params()
QUICK = Params(duration_s=10)


@dataclass(frozen=True)
class Load:
    kind: str  #: "noop" or "rclone"
    jobs: int


# -- set-up ------------------------------------------------------------------------------


def add_plugin(home: Home) -> None:
    """Install the no-op kind for the home's processes, as a package would: a dist-info
    with a `synchub.kinds` entry point, on PYTHONPATH with the repository root."""
    site = home.root / "site"
    dist = site / "bench_noop-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-noop\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[synchub.kinds]\nnoop = bench.noop_kind:NoopKind\n")
    home.env["PYTHONPATH"] = f"{site}:{REPO}"


def job_fields(load: Load, i: int, root: Path) -> JobFields:
    if load.kind == "noop":
        return JobFields(kind="noop", params={}, every="1s", retries=0)
    params = {"source": str(root / "src"), "destination": str(root / f"dst-{i:03d}")}
    return JobFields(params=params, every="1s", retries=0)


def define_jobs(home: Home, load: Load, anchor: datetime) -> None:
    """The load's jobs, all anchored at `anchor` (a clock frozen there defines them)."""
    engines = {**builtin_engines(), "noop": NoopKind()}
    with home.services(clock=FakeClock(anchor), engines=engines) as svc:
        for i in range(load.jobs):
            svc.jobs.add(f"{load.kind}-{i:03d}", job_fields(load, i, home.root))


def tiny_tree(root: Path) -> None:
    for name in ("a.txt", "b.txt", "sub/c.txt"):
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{name}\n")


def sleep_until(when: datetime) -> None:
    time.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()))


# -- one load ------------------------------------------------------------------------------


def run_load(load: Load, p: Params) -> dict[str, Any]:
    with synchub_home() as home:
        add_plugin(home)
        tiny_tree(home.root)
        with serve(home, "--workers", str(p.workers)) as server:
            anchor = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=p.lead_s + 1)
            define_jobs(home, load, anchor)
            if datetime.now(UTC) >= anchor + SECOND:
                raise RuntimeError(f"defining {load.jobs} jobs took longer than {p.lead_s}s")
            end = anchor + timedelta(seconds=p.duration_s)
            sleep_until(anchor)
            cpu = cpu_seconds(server.pid)
            sleep_until(end)
            cpu = cpu_seconds(server.pid) - cpu
            threads = status_field(server.pid, "Threads")
            sleep_until(end + timedelta(seconds=p.tail_s))
        with home.services() as svc:
            runs = window(all_runs(svc), anchor, end)
            if load.kind == "rclone":
                add_spawn_times(svc, runs)
    return {
        "anchor": anchor.isoformat(),
        "cpu_share_of_one_core": cpu / p.duration_s,
        "threads": threads,
        "runs": runs,
        **analyse(runs, load, anchor, p),
    }


def all_runs(svc: Services) -> list[RunView]:
    runs: list[RunView] = []
    before: int | None = None
    while True:
        page = svc.runs.list(limit=1000, before_id=before)
        runs += page
        if len(page) < 1000:
            return runs
        before = page[-1].id


#: What is kept of each run for the analysis and the JSON file.
RUN_FIELDS = (
    "id", "job", "state", "scheduled_for", "created_at", "queued_at", "started_at", "finished_at",
)  # fmt: skip


def window(runs: list[RunView], anchor: datetime, end: datetime) -> list[dict[str, Any]]:
    """Scheduled runs for fire times in (anchor, end], slimmed to RUN_FIELDS."""
    return [
        {k: v for k, v in r.as_dict().items() if k in RUN_FIELDS}
        for r in runs
        if r.trigger == "schedule"
        and r.scheduled_for is not None
        and anchor < datetime.fromisoformat(r.scheduled_for) <= end
    ]


def add_spawn_times(svc: Services, runs: list[dict[str, Any]]) -> None:
    for run in runs:
        lines = svc.runs.logs(run["id"]) if run["started_at"] else []
        run["spawned_at"] = next(
            (line.at for line in lines if line.message.startswith(SPAWN_LINE)), None
        )


# -- analysis ----------------------------------------------------------------------------------


def delay_ms(run: dict[str, Any], key: str) -> float:
    return 1000 * seconds_between(run["scheduled_for"], run[key])


def analyse(runs: list[dict[str, Any]], load: Load, anchor: datetime, p: Params) -> dict[str, Any]:
    ran = [r for r in runs if r["started_at"] is not None]  # not skipped, not still pending
    delays = {
        label: summarize([delay_ms(r, key) for r in ran if r.get(key) is not None])
        for label, key in DELAYS
    }
    fires = [datetime.fromisoformat(r["scheduled_for"]) for r in runs]
    finished = [datetime.fromisoformat(r["finished_at"]) for r in runs if r["finished_at"]]
    busy_s = (max(finished) - anchor).total_seconds() if finished else 0.0
    return {
        "delays_ms": {label: d for label, d in delays.items() if d["n"]},
        "grid": {
            "expected_fires": load.jobs * p.duration_s,
            "runs": len(runs),
            "distinct_fires": len({(r["job"], r["scheduled_for"]) for r in runs}),
            "off_grid": sum((f - anchor) % SECOND != timedelta(0) for f in fires),
            "states": dict(Counter(r["state"] for r in runs)),
        },
        "finished_per_s": len(finished) / busy_s if busy_s else 0.0,
        "trend": trend(runs, anchor),
    }


def trend(runs: list[dict[str, Any]], anchor: datetime) -> dict[str, Any]:
    """Claim lateness over the window: medians per 10 s, and its slope in ms per minute."""
    claimed = [r for r in runs if r["started_at"] is not None]
    offsets = [(datetime.fromisoformat(r["scheduled_for"]) - anchor) / SECOND for r in claimed]
    lateness = [delay_ms(r, "started_at") for r in claimed]
    buckets: dict[int, list[float]] = {}
    for offset, late in zip(offsets, lateness, strict=True):
        buckets.setdefault(int((offset - 1) // 10) * 10, []).append(late)
    slope = statistics.linear_regression(offsets, lateness).slope if len(claimed) > 1 else 0.0
    return {
        "p50_ms_per_10s": {
            f"{k}-{k + 10}s": statistics.median(v) for k, v in sorted(buckets.items())
        },
        "slope_ms_per_minute": slope * 60,
    }


# -- the benchmark -----------------------------------------------------------------------------


def run(quick: bool) -> Report:
    p = QUICK if quick else FULL
    loads = [Load("noop", p.single_jobs), Load("noop", p.noop_jobs), Load("rclone", p.rclone_jobs)]
    results = {f"{load.jobs} {load.kind}": run_load(load, p) for load in loads}
    return Report("lateness", asdict(p), {"loads": results}, summary(p, results))


def summary(p: Params, results: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    for name, r in results.items():
        for label, d in r["delays_ms"].items():
            rows.append([f"{name}: {label}", *(f"{d[k]:.1f}" for k in ("p50", "p99", "max"))])
    lines = [
        f"lateness: every 1 s for {p.duration_s} s, serve --workers {p.workers}, all jobs of a "
        "load on one whole-second grid",
        *table(["ms after scheduled_for", "p50", "p99", "max"], rows),
    ]
    for name, r in results.items():
        g, t = r["grid"], r["trend"]
        lines.append(
            f"{name}: {g['runs']}/{g['expected_fires']} fires, {g['distinct_fires']} distinct, "
            f"{g['off_grid']} off the grid, states {g['states']}; claim p50 per 10 s "
            + " ".join(f"{v:.1f}" for v in t["p50_ms_per_10s"].values())
            + f"; slope {t['slope_ms_per_minute']:+.2f} ms/min; "
            f"{r['finished_per_s']:.1f} runs/s finished; "
            f"server CPU {r['cpu_share_of_one_core'] * 100:.0f}% of a core"
        )
    lines.append(f"goal: claimed p99 <= {GOAL_P99_MS:g} ms, no drift")
    return lines
