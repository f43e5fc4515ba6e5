"""`python -m bench [NAME ...] [--quick]`: run, save JSON, summarise (names below).

`api` also takes `--full` (1,000,000 runs instead of 100,000), `--db sqlite|postgresql`
(default: both), `--sql STATEMENT` (run after seeding, e.g. to try an index) and
`--endpoint LABEL` (only the one-client latency of these endpoints, e.g. jobs) and
`--client auto|wrk|httpx` (the readers of its loaded scenarios; auto: wrk when installed).
`prune` takes `--runs N` (runs seeded; default 1,000,000) and `--db`.
`pages` (the console's pages over 10,000 jobs and 1,000,000 runs; `--quick`: 1,000 and
50,000) takes `--db` and `--reseed` (seed anew: the seeded database is otherwise kept
between runs under SYNCHUB_BENCH_CACHE, default ~/.cache/synchub-bench).
`celery` takes `--runs N`, `--reps N`, `--latency-s N` and `--broker redis|rabbitmq`
(repeatable) to shorten a run, or `--memory-only` (the workers' idle memory, before and
after a few warm-up runs: ≈ 1 min); its report records what was used.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable

from bench import (
    api,
    burst,
    celery_bench,
    guard,
    lateness,
    memory,
    overhead,
    pages,
    prune,
    startup,
)
from bench.common import CpuWatch, Report, machine, write_results

BENCHMARKS: dict[str, Callable[[bool], Report]] = {
    "overhead": overhead.run,
    "guard": guard.run,
    "lateness": lateness.run,
    "memory": memory.run,
    "api": api.run,
    "celery": celery_bench.run,
    "prune": prune.run,
    "burst": burst.run,
    "startup": startup.run,
    "pages": pages.run,
}


#: Above this share of the machine used by other processes, say the figures are suspect.
BUSY_SHARE = 0.05


def busy_note(other: dict[str, float]) -> str:
    note = f"other processes used {other['cpu_s']:.1f} CPU-s ({other['share']:.0%} of the machine)"
    if other["share"] > BUSY_SHARE:
        note += ": the machine was shared; these figures are suspect, run again when it is idle"
    return note


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run ({', '.join(BENCHMARKS)}); default: all",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run, not for reporting")
    parser.add_argument("--full", action="store_true", help="api: 1,000,000 runs (default 100,000)")
    parser.add_argument(
        "--db",
        action="append",
        choices=["sqlite", "postgresql"],
        help="api, prune, pages: this database only (repeatable; default both)",
    )
    parser.add_argument(
        "--sql", action="append", metavar="STATEMENT", help="api: run after seeding (repeatable)"
    )
    parser.add_argument(
        "--endpoint",
        action="append",
        choices=list(api.ENDPOINTS),
        help="api: only the one-client latency of this endpoint (repeatable; default all, "
        "with every scenario)",
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "httpx"],
        default="auto",
        help="api: the readers' client under load (default auto: wrk when installed, "
        "else httpx with a note)",
    )
    parser.add_argument(
        "--reseed",
        action="store_true",
        help="pages: seed the database anew instead of copying the cached one",
    )
    parser.add_argument(
        "--runs", type=int, help="celery: runs or tasks per throughput trial; prune: runs seeded"
    )
    parser.add_argument("--reps", type=int, help="celery: throughput trials per system")
    parser.add_argument("--latency-s", type=int, help="celery: seconds of each latency load")
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="celery: only the workers' idle memory, before and after a few warm-up runs",
    )
    parser.add_argument(
        "--broker",
        action="append",
        choices=["redis", "rabbitmq"],
        help="celery: this broker only (repeatable; default both)",
    )
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    # SIGTERM unwinds like Ctrl-C, so servers are stopped and temporary directories removed.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))
    m = machine()
    print(
        f"{m['date']}: {m['nproc']} x {m['cpu_model']}, Python {m['python']}, {m['rclone']}, "
        f"synchub {m['synchub_commit']}\n"
    )
    for name in args.names or list(BENCHMARKS):
        watch = CpuWatch()
        if name == "api":
            report = api.run(
                args.quick,
                full=args.full,
                databases=tuple(args.db or ()),
                sql=tuple(args.sql or ()),
                endpoints=tuple(args.endpoint or ()),
                client=args.client,
            )
        elif name == "pages":
            report = pages.run(args.quick, databases=tuple(args.db or ()), reseed=args.reseed)
        elif name == "prune":
            report = prune.run(args.quick, runs=args.runs, databases=tuple(args.db or ()))
        elif name == "celery":
            report = celery_bench.run(
                args.quick,
                runs=args.runs,
                reps=args.reps,
                latency_s=args.latency_s,
                brokers=tuple(args.broker or ()),
                memory_only=args.memory_only,
            )
        else:
            report = BENCHMARKS[name](args.quick)
        report.other_load = watch.others()
        path = write_results(report)
        print("\n".join(report.lines))
        print(busy_note(report.other_load))
        print(f"raw results: {path}\n", flush=True)


if __name__ == "__main__":
    main()
