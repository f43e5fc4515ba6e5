"""Start-up: how long the commands a person types take to answer (issue 16).

`python -c pass` (the floor), `synchub --help`, `synchub job add --help`,
`synchub job list` and `synchub runs list` over an initialised home with 20 jobs
and their runs, each command run `reps` times, the commands interleaved round by
round. Then the listings again with `synchub serve` up on the home: asked through
its local socket ("via socket"), and read directly beside it (`SYNCHUB_NO_SOCKET`,
"direct, server up"). `SYNCHUB_BENCH_BASELINE=DIR` (a checkout) runs that tree's
synchub too (`PYTHONPATH=DIR`, the same interpreter), interleaved with this one.
Each command's CPU time (user + system, its own process) is kept beside its wall
time: on a busy machine it is the steadier figure. Goals: `--help` ≤ 0.15 s,
`job list` / `runs list` ≤ 0.25 s (medians).
"""

from __future__ import annotations

import compileall
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import SYNCHUB, Home, Report, serve, synchub_home, table

GOALS_S = {"--help": 0.15, "job add --help": 0.15, "job list": 0.25, "runs list": 0.25}
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "--help": [SYNCHUB, "--help"],
    "job add --help": [SYNCHUB, "job", "add", "--help"],
    "job list": [SYNCHUB, "job", "list"],
    "runs list": [SYNCHUB, "runs", "list"],
}
#: With a server up: {name: (argv, extra environment)}.
WITH_SERVER = {
    "job list via socket": ([SYNCHUB, "job", "list"], {}),
    "runs list via socket": ([SYNCHUB, "runs", "list"], {}),
    "job list direct, server up": ([SYNCHUB, "job", "list"], {"SYNCHUB_NO_SOCKET": "1"}),
    "runs list direct, server up": ([SYNCHUB, "runs", "list"], {"SYNCHUB_NO_SOCKET": "1"}),
}


@dataclass(frozen=True)
class Params:
    reps: int = 15
    jobs: int = 20


FULL = Params()
QUICK = Params(reps=3, jobs=2)


def run(quick: bool) -> Report:
    p = QUICK if quick else FULL
    trees: dict[str, str | None] = {"this": None}
    if baseline := os.environ.get("SYNCHUB_BENCH_BASELINE"):
        trees = {"baseline": str(Path(baseline).resolve()), **trees}
    for tree in trees.values():
        root = Path(tree) if tree else Path(__file__).parents[1]
        compileall.compile_dir(root / "synchub", quiet=1)
    samples: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    with synchub_home() as home:
        src = home.root / "src"
        src.mkdir()
        for i in range(p.jobs):
            home.cli("job", "add", f"job-{i:02d}", "--source", str(src),
                     "--dest", str(home.root / f"dst-{i}"), "--every", "1h")  # fmt: skip
            home.cli("job", "run", f"job-{i:02d}", "--wait")
        commands = {name: (argv, {}) for name, argv in COMMANDS.items()}
        _rounds(home, trees, commands, p.reps, samples, cpu)
        with serve(home, "--no-scheduler"):
            _rounds(home, trees, WITH_SERVER, p.reps, samples, cpu)
    medians = {k: statistics.median(v) for k, v in samples.items()}
    cpu_medians = {k: statistics.median(v) for k, v in cpu.items()}
    data = {"samples_s": samples, "medians_s": medians, "cpu_s": cpu, "cpu_medians_s": cpu_medians}
    return Report("startup", asdict(p), data, _lines(samples, cpu))


def _rounds(
    home: Home,
    trees: dict[str, str | None],
    commands: dict[str, tuple[list[str], dict[str, str]]],
    reps: int,
    samples: dict[str, list[float]],
    cpu: dict[str, list[float]],
) -> None:
    """`reps` rounds of every command of every tree, interleaved."""
    for _ in range(reps):
        for label, tree in trees.items():
            env = dict(home.env)
            if tree is not None:
                env["PYTHONPATH"] = tree
            for name, (argv, extra) in commands.items():
                key = f"{name} ({label})" if len(trees) > 1 else name
                wall, used = _timed(argv, {**env, **extra})
                samples.setdefault(key, []).append(wall)
                cpu.setdefault(key, []).append(used)


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) `argv` takes; raise when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, capture_output=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _lines(samples: dict[str, list[float]], cpu: dict[str, list[float]]) -> list[str]:
    rows = []
    for key, values in samples.items():
        goal = GOALS_S.get(key.split(" (")[0].removesuffix(" via socket"))
        median = statistics.median(values)
        verdict = "" if goal is None else ("met" if median <= goal else "MISSED")
        rows.append([key, f"{median * 1000:.0f}", f"{min(values) * 1000:.0f}",
                     f"{max(values) * 1000:.0f}", f"{statistics.median(cpu[key]) * 1000:.0f}",
                     verdict])  # fmt: skip
    return table(["command (ms)", "median", "min", "max", "cpu median", "goal"], rows)
