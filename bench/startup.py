"""Start-up: how long the commands a person types take to answer (issue 16).

`python -c pass` (the floor), `synchub --help`, `synchub job add --help`,
`synchub job list` and `synchub runs list` over an initialised home with 20 jobs
and their runs, each command run `reps` times, the commands interleaved round by
round. `SYNCHUB_BENCH_BASELINE=DIR` (a checkout) runs that tree's synchub too
(`PYTHONPATH=DIR`, the same interpreter), interleaved with this one. Goals:
`--help` ≤ 0.15 s, `job list` / `runs list` ≤ 0.25 s (medians).
"""

from __future__ import annotations

import compileall
import os
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import SYNCHUB, Report, synchub_home, table, timed

GOALS_S = {"--help": 0.15, "job add --help": 0.15, "job list": 0.25, "runs list": 0.25}
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "--help": [SYNCHUB, "--help"],
    "job add --help": [SYNCHUB, "job", "add", "--help"],
    "job list": [SYNCHUB, "job", "list"],
    "runs list": [SYNCHUB, "runs", "list"],
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
    with synchub_home() as home:
        src = home.root / "src"
        src.mkdir()
        for i in range(p.jobs):
            home.cli("job", "add", f"job-{i:02d}", "--source", str(src),
                     "--dest", str(home.root / f"dst-{i}"), "--every", "1h")  # fmt: skip
            home.cli("job", "run", f"job-{i:02d}", "--wait")
        for _ in range(p.reps):
            for label, tree in trees.items():
                env = dict(home.env)
                if tree is not None:
                    env["PYTHONPATH"] = tree
                for name, argv in COMMANDS.items():
                    key = f"{name} ({label})" if len(trees) > 1 else name
                    samples.setdefault(key, []).append(timed(argv, env=env))
    medians = {k: statistics.median(v) for k, v in samples.items()}
    return Report("startup", asdict(p), {"samples_s": samples, "medians_s": medians},
                  _lines(samples))  # fmt: skip


def _lines(samples: dict[str, list[float]]) -> list[str]:
    rows = []
    for key, values in samples.items():
        goal = GOALS_S.get(key.split(" (")[0])
        median = statistics.median(values)
        verdict = "" if goal is None else ("met" if median <= goal else "MISSED")
        rows.append([key, f"{median * 1000:.0f}", f"{min(values) * 1000:.0f}",
                     f"{max(values) * 1000:.0f}", verdict])  # fmt: skip
    return table(["command (ms)", "median", "min", "max", "goal"], rows)
