"""The summary `python -m bench celery` prints: throughput beside bare Celery and the
recording peer, fire latency, idle memory, and whether each goal was met."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.common import table

if TYPE_CHECKING:
    from bench.celery_bench import Params

GOAL_THROUGHPUT_SHARE = 0.80  #: of bare Celery's tasks per second
GOAL_P99_MS = 10.0
#: synchub's runs per second over the peer's (Celery with a result backend) tasks per second
GOAL_PEER_RATIO = 2.5
#: the systems of a throughput trial, in the order they run and are shown
SYSTEMS = ("bare", "bare + events", "peer", "synchub")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def cpu_ms_per_run(trial: dict[str, Any]) -> dict[str, float]:
    """CPU milliseconds per run (or task) of each process group measured in a trial."""
    return {k: v * 1000 / trial["runs"] for k, v in trial["cpu_s"].items() if k != "wall"}


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def summary(p: Params, results: dict[str, dict[str, Any]], warm_up: int) -> list[str]:
    if p.memory_only:
        return [
            f"celery: idle memory only, prefork -c {p.concurrency}; 'after' = {p.idle_s:g} s "
            f"after {warm_up} warm-up runs or tasks",
            *memory_summary(results),
        ]
    return [
        f"celery: {p.runs} no-op runs/tasks per trial, {p.reps} trials each, prefork -c "
        f"{p.concurrency}, acks_late, prefetch 1; peer = Celery + PostgreSQL result backend, "
        f"task_track_started; latency: 1 job, then {p.latency_jobs} jobs, every 1 s for "
        f"{p.latency_s} s",
        *throughput_summary(results),
        *latency_summary(results),
        *memory_summary(results),
        *peer_goals(results),
        f"goals: synchub >= {GOAL_THROUGHPUT_SHARE:.0%} of bare Celery's runs/s and >= "
        f"{GOAL_PEER_RATIO:g}x the peer's; started p99 <= {GOAL_P99_MS:g} ms, no drift; "
        "synchub worker RSS <= plain Celery worker's, idle PSS <= the peer's",
    ]


def per_s(r: dict[str, Any]) -> dict[str, float]:
    """Median runs or tasks per second of each system."""
    return {name: median([x["per_s"] for x in trials]) for name, trials in r["throughput"].items()}


def throughput_summary(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    for broker, r in results.items():
        t, rate = r["throughput"], per_s(r)
        for name in SYSTEMS:
            cpu = median([sum(cpu_ms_per_run(x).values()) for x in t[name]])
            share = rate[name] / rate["bare"] if rate["bare"] else 0.0
            rows.append([
                f"{broker}: {name}", f"{rate[name]:.0f}", f"{share:.0%}",
                " ".join(f"{x['per_s']:.0f}" for x in t[name]), f"{cpu:.2f}",
                str(all(x["complete"] for x in t[name])),
            ])  # fmt: skip
    lines = table(
        ["throughput", "per s (median)", "of bare", "trials", "CPU ms/run", "all done"], rows
    )
    for broker, r in results.items():
        for name in ("bare", "peer", "synchub"):
            parts = {
                k: median([cpu_ms_per_run(x)[k] for x in r["throughput"][name]])
                for k in r["throughput"][name][0]["cpu_s"]
                if k != "wall"
            }
            lines.append(
                f"{broker}: {name}: CPU ms per run: "
                + ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
            )
    return lines


def latency_summary(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    for broker, r in results.items():
        for load, lat in r["latency"].items():
            for label, d in lat["delays_ms"].items():
                if d["n"]:
                    cells = [f"{d[k]:.1f}" for k in ("p50", "p99", "max")]
                    rows.append([f"{broker}, {load}: {label}", *cells])
        for load, lat in r["bare_latency"].items():
            for label, d in lat["delays_ms"].items():
                if d["n"]:
                    cells = [f"{d[k]:.1f}" for k in ("p50", "p99", "max")]
                    rows.append([f"{broker}, bare Celery, {load}: {label}", *cells])
    lines = table(["ms after scheduled_for", "p50", "p99", "max"], rows)
    for broker, r in results.items():
        for load, lat in r["latency"].items():
            lines.append(
                f"{broker}, {load}: {lat['runs']}/{lat['expected_fires']} fires, "
                f"{lat['distinct_fires']} distinct, {lat['off_grid']} off the grid, states "
                f"{lat['states']}; started p50 per 10 s "
                + " ".join(f"{v:.1f}" for v in lat["trend"]["p50_ms_per_10s"].values())
                + f"; slope {lat['trend']['slope_ms_per_minute']:+.2f} ms/min"
            )
    return lines


def peer_goals(results: dict[str, dict[str, Any]]) -> list[str]:
    """synchub against the peer, beside its share of bare Celery, per broker."""
    lines = []
    for broker, r in results.items():
        rate = per_s(r)
        ratio = rate["synchub"] / rate["peer"] if rate["peer"] else float("inf")
        share = rate["synchub"] / rate["bare"] if rate["bare"] else 0.0
        idle = {name: r["memory_idle"][name]["pss_mib"] for name in ("synchub", "peer")}
        after = {name: r["memory_after_runs"][name]["pss_mib"] for name in ("synchub", "peer")}
        w = r["peer_writes_per_task"]
        lines += [
            f"{broker}: synchub {rate['synchub']:.0f} runs/s = {ratio:.2f}x the peer's "
            f"{rate['peer']:.0f} tasks/s (goal >= {GOAL_PEER_RATIO:g}x: "
            f"{verdict(ratio >= GOAL_PEER_RATIO)}), {share:.0%} of bare Celery's "
            f"{rate['bare']:.0f} (goal >= {GOAL_THROUGHPUT_SHARE:.0%}: "
            f"{verdict(share >= GOAL_THROUGHPUT_SHARE)})",
            f"{broker}: idle worker PSS synchub {idle['synchub']:.1f} MiB, peer "
            f"{idle['peer']:.1f} (goal no larger: {verdict(idle['synchub'] <= idle['peer'])}); "
            f"after the trials {after['synchub']:.1f} and {after['peer']:.1f}",
            f"{broker}: the peer's backend per task: {w['inserts']:.2f} rows inserted and "
            f"{w['updates']:.2f} updated in Celery's task table (STARTED, then SUCCESS), "
            f"{w['commits']:.2f} commits (its engine pings before each write, in autocommit)",
        ]
    return lines


def memory_summary(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    for broker, r in results.items():
        for name in ("synchub", "bare", "bare + events", "peer"):
            idle, after = r["memory_idle"][name], r["memory_after_runs"][name]
            rows.append([
                f"{broker}: {name}", str(idle["processes"]), f"{idle['rss_mib']:.1f}",
                f"{idle['main_rss_mib']:.1f}", f"{idle['pss_mib']:.1f}",
                f"{after['rss_mib']:.1f}", f"{after['pss_mib']:.1f}",
            ])  # fmt: skip
    lines = table(
        ["idle worker MiB", "procs", "RSS", "main RSS", "PSS", "RSS after", "PSS after"], rows
    )
    for broker, r in results.items():
        for name in ("synchub", "bare", "peer"):
            for when in ("memory_idle", "memory_after_runs"):
                each = r[when][name]["each"]
                lines.append(
                    f"{broker}: {name}, {'idle' if when == 'memory_idle' else 'after'}, "
                    "RSS/PSS per process (main first): "
                    + ", ".join(f"{x['rss_mib']:.1f}/{x['pss_mib']:.1f}" for x in each)
                )
    for broker, r in results.items():
        sched = r["memory_idle"]["scheduler"]
        lines.append(
            f"{broker}: synchub scheduler idle: RSS {sched['rss_mib']:.1f} MiB, "
            f"PSS {sched['pss_mib']:.1f} MiB"
        )
    return lines
