"""Idle memory and start-up of `synchub serve`, with 0 and with 1,000 jobs defined.

The jobs are rclone jobs with a daily cron (they never fire during the benchmark),
defined through the services layer. Servers with 0 and 1,000 jobs are started in
turn (interleaved, `reps` times each). Per start: seconds from just before the
process is started until /healthz answers 200; then, after `idle_s` seconds of
idling, VmRSS of the server and any child processes from /proc.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.common import (
    Home,
    Report,
    descendants,
    serve,
    status_field,
    synchub_home,
    table,
    tree_rss_kib,
)
from synchub.services.jobs.fields import JobFields

GOAL_RSS_MIB = 100.0
GOAL_PER_JOB_KIB = 10.0
GOAL_HEALTHY_S = 1.5


@dataclass(frozen=True)
class Params:
    jobs: int = 1000
    reps: int = 3  #: starts per job count
    idle_s: float = 10.0


FULL = Params()
QUICK = Params(jobs=200, reps=1, idle_s=3.0)


def define_jobs(home: Home, count: int) -> float:
    """`count` daily rclone jobs; returns the seconds it took."""
    start = time.perf_counter()
    with home.services() as svc:
        for i in range(count):
            params = {"source": str(home.root / "src"), "destination": str(home.root / f"d{i}")}
            svc.jobs.add(f"daily-{i:04d}", JobFields(params=params, cron="0 3 * * *", tz="UTC"))
    return time.perf_counter() - start


def measure_start(home: Home, idle_s: float) -> dict[str, Any]:
    with serve(home) as server:
        time.sleep(idle_s)
        return {
            "healthy_after_s": server.healthy_after_s,
            "rss_kib": tree_rss_kib(server.pid),
            "children": len(descendants(server.pid)),
            "threads": status_field(server.pid, "Threads"),
        }


def run(quick: bool) -> Report:
    p = QUICK if quick else FULL
    with synchub_home() as empty, synchub_home() as full:
        define_s = define_jobs(full, p.jobs)
        homes = {0: empty, p.jobs: full}
        starts: dict[int, list[dict[str, Any]]] = {n: [] for n in homes}
        for _ in range(p.reps):
            for n, home in homes.items():
                starts[n].append(measure_start(home, p.idle_s))
    m = medians(starts, p.jobs)
    data = {"define_jobs_s": define_s, "starts": {str(n): s for n, s in starts.items()}}
    return Report("memory", asdict(p), {**data, "medians": m}, summary(p, m))


def medians(starts: dict[int, list[dict[str, Any]]], jobs: int) -> dict[str, float]:
    rss = {n: statistics.median(s["rss_kib"] for s in runs) for n, runs in starts.items()}
    healthy = {
        n: statistics.median(s["healthy_after_s"] for s in runs) for n, runs in starts.items()
    }
    return {
        "rss_mib_0": rss[0] / 1024,
        f"rss_mib_{jobs}": rss[jobs] / 1024,
        "per_job_kib": (rss[jobs] - rss[0]) / jobs,
        "healthy_s_0": healthy[0],
        f"healthy_s_{jobs}": healthy[jobs],
    }


def summary(p: Params, m: dict[str, float]) -> list[str]:
    rows = [
        [f"{n} jobs", f"{m[f'rss_mib_{n}']:.1f}", f"{m[f'healthy_s_{n}']:.2f}"] for n in (0, p.jobs)
    ]
    return [
        f"memory: serve idle {p.idle_s:g} s, median of {p.reps} starts each",
        *table(["", "RSS MiB", "healthy after s"], rows),
        f"per job: {m['per_job_kib']:.2f} KiB",
        f"goals: <= {GOAL_RSS_MIB:g} MiB, <= {GOAL_PER_JOB_KIB:g} KiB per job, "
        f"healthy <= {GOAL_HEALTHY_S:g} s",
    ]
