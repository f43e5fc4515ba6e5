"""Overhead: `synchub job run NAME --wait` against the same bare `rclone sync` (or copy).

No server runs, so `job run --wait` runs the job in the foreground with the real
runner. Bare rclone gets the command line synchub's engine gives rclone for the job
into an empty destination (`synchub_argv`: the job's own, with `LOG_ARGS`, the trash
filter and a guarded sync's `--max-delete=0`; the no-change cases reuse it, where
that limit changes nothing) and the same environment (no config file). Both sync (or
copy) the same source into the same destination (the mixed set as a copy job and as
a sync job, one pass each into an empty destination), interleaved A B A B … because
small-file timings drift within a session; medians are reported, and differences are
medians of each pair's difference, with their spread (the quartiles of the pairs'
ratios). The mixed set is noisier than the others (three large files among many
small ones), so it gets more pairs, and so does the small set (its runs are short).
A pair's order alternates (synchub first, then bare rclone first), so that neither
side always runs second, after the other's writes. For each synchub run the database
also gives the run's own timings, so the report separates the run from the CLI around it:

- e2e: `synchub job run --wait` wall clock, process start to exit;
- run: the run's started_at (claim) -> finished_at;
- claim_to_spawn: started_at -> the log line written right after rclone is spawned
  (for a guarded sync: the line written just before its preview starts rclone).

CPU time is steadier than wall time on a shared machine, so each process's is read
when it has exited, before it is reaped (/proc/PID/stat of the zombie, in clock
ticks): synchub's own (`cpu`: every thread of the CLI process, start-up included)
apart from its rclone's (`rclone_cpu`), and bare rclone's. A set's cold run less its
no-change run, over its files, is synchub's CPU per file.

Python start-up is timed on its own (STARTUP): the bare interpreter, `synchub
--help`, and importing the CLI with and without the interpreter's normal exit.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.common import (
    SPAWN_LINE,
    SYNCHUB,
    Home,
    KiB,
    MiB,
    Report,
    seconds_between,
    synchub_home,
    table,
)
from bench.common import timed as timed_run
from synchub.core.runs import FileChange, Progress
from synchub.engines.base import Outcome, RunContext
from synchub.engines.process import minimal_env
from synchub.engines.rclone.engine import LOG_ARGS, RcloneEngine
from synchub.engines.rclone.log import RcloneLog
from synchub.engines.rclone.safety import SafeRun
from synchub.services import Services
from synchub.services.jobs.fields import JobFields

#: The first log line of a guarded sync: the preview is about to start rclone.
GUARD_PREVIEW_LINE = "listing both sides"
GOAL_BIG_PCT = 2.0
GOAL_SMALL_PCT = 5.0
GOAL_NOCHANGE_MS = 30.0


@dataclass(frozen=True)
class Params:
    reps: int = 5  #: A/B pairs per case
    small_reps: int = 9  #: A/B pairs per case of the small set
    mixed_reps: int = 11  #: A/B pairs per case of the mixed set
    big_files: int = 20
    big_mib: int = 50
    small_files: int = 2000
    small_min_kib: int = 4
    small_max_kib: int = 64
    small_dirs: int = 20
    #: the mixed set: many small files of one size and a few large ones
    mixed_small: int = 1500
    mixed_small_kib: int = 16
    mixed_big: int = 3
    mixed_big_mib: int = 30
    seed: int = 1234
    startup_reps: int = 10


FULL = Params()
QUICK = Params(
    reps=2,
    small_reps=2,
    mixed_reps=3,
    big_files=4,
    small_files=300,
    mixed_small=300,
    startup_reps=2,
)


# -- data -------------------------------------------------------------------------


def make_big(root: Path, p: Params, rng: random.Random) -> Path:
    root.mkdir(parents=True)
    for i in range(p.big_files):
        (root / f"big-{i:02d}.bin").write_bytes(rng.randbytes(p.big_mib * MiB))
    return root


def make_small(root: Path, p: Params, rng: random.Random) -> Path:
    for i in range(p.small_files):
        folder = root / f"d{i % p.small_dirs:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.randint(p.small_min_kib * KiB, p.small_max_kib * KiB)
        (folder / f"f{i:05d}.bin").write_bytes(rng.randbytes(size))
    return root


def make_mixed(root: Path, p: Params, rng: random.Random) -> Path:
    for i in range(p.mixed_small):
        folder = root / f"d{i % p.small_dirs:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:05d}.bin").write_bytes(rng.randbytes(p.mixed_small_kib * KiB))
    for i in range(p.mixed_big):
        (root / f"big-{i}.bin").write_bytes(rng.randbytes(p.mixed_big_mib * MiB))
    return root


def empty(path: Path) -> None:
    """Remove `path` and flush the page cache's dirty pages, outside any timing."""
    shutil.rmtree(path, ignore_errors=True)
    os.sync()


# -- one run of each ------------------------------------------------------------------


class _Unheard:
    """A RunSink for `synchub_argv`, which runs nothing."""

    def log(self, level: str, message: str, fields: object = None) -> None:
        pass

    def progress(self, snapshot: Progress) -> None:
        pass

    def file(self, change: FileChange) -> None:
        pass


def synchub_argv(params: dict[str, str]) -> list[str]:
    """The rclone command line synchub's engine runs for a job of `params` whose
    destination is empty (as it is now), taken from the engine rather than rebuilt."""
    engine = RcloneEngine()
    params = engine.validate(params, frozenset())
    ctx = RunContext(0, "bench", params, 1, first_run=True, remotes={}, sink=_Unheard())
    ran: list[list[str]] = []

    def execute(argv: list[str]) -> Outcome:
        ran.append(argv)
        return Outcome(ok=True, exit_code=0)

    SafeRun(ctx, {}, RcloneLog(ctx.sink), engine.binary, 1.0).run(
        engine.argv(params, first_run=True), execute
    )
    (argv,) = ran
    assert all(flag in argv for flag in LOG_ARGS)
    return argv


@dataclass(frozen=True)
class Ran:
    wall: float  #: seconds from start to exit
    cpu: float  #: the process's own CPU seconds, every thread
    children_cpu: float  #: CPU seconds of the children it waited for
    code: int
    output: str


_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def run_counted(argv: list[str], env: dict[str, str]) -> Ran:
    """Run `argv` to its end: its wall time, and its CPU apart from its children's,
    read from /proc once it has exited and before it is reaped."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
    wall = time.perf_counter() - start
    # After "(comm)": state is field 3; utime, stime, cutime, cstime are fields 14-17.
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) * _TICK_S for f in fields[11:15])
    code = proc.wait()
    return Ran(wall, utime + stime, cutime + cstime, code, output)


def time_bare(argv: list[str]) -> dict[str, float]:
    ran = run_counted(argv, minimal_env({"RCLONE_CONFIG": ""}))
    if ran.code != 0:
        raise RuntimeError(f"bare rclone exited {ran.code}: {ran.output[-2000:]}")
    return {"bare": ran.wall, "bare_cpu": ran.cpu}


def time_synchub(home: Home, svc: Services, job: str) -> dict[str, float]:
    done = run_counted([SYNCHUB, "job", "run", job, "--wait"], home.env)
    if done.code != 0:
        raise RuntimeError(f"synchub job run {job} exited {done.code}: {done.output}")
    run = svc.runs.list(job=job, limit=1)[0]
    # A guarded sync starts with its preview, which logs its own first line; a sync
    # the preview finds nothing for starts no second rclone at all.
    starts = (SPAWN_LINE, GUARD_PREVIEW_LINE)
    spawned = next(line.at for line in svc.runs.logs(run.id) if line.message.startswith(starts))
    return {
        "e2e": done.wall,
        "run": seconds_between(run.started_at, run.finished_at),
        "claim_to_spawn": seconds_between(run.started_at, spawned),
        "cpu": done.cpu,
        "rclone_cpu": done.children_cpu,
    }


def measure_case(
    home: Home,
    svc: Services,
    job: str,
    bare: list[str],
    dst: Path,
    *,
    cold: bool,
    reps: int,
) -> dict[str, list[float]]:
    """`reps` interleaved pairs of synchub and `bare` rclone, each pair's order the
    other way round from the one before; seconds per sample."""
    samples: dict[str, list[float]] = {}
    sides: list[Callable[[], dict[str, float]]] = [
        lambda: time_synchub(home, svc, job),
        lambda: time_bare(bare),
    ]
    for rep in range(reps):
        for side in sides if rep % 2 == 0 else sides[::-1]:
            if cold:
                empty(dst)
            for key, value in side().items():
                samples.setdefault(key, []).append(value)
    return samples


#: What Python start-up costs the CLI: the interpreter, the imports, the exit.
STARTUP = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "synchub --help": [SYNCHUB, "--help"],
    "import synchub.cli": [sys.executable, "-c", "import synchub.cli"],
    "import synchub.cli; os._exit(0)": [
        sys.executable, "-c", "import os, synchub.cli; os._exit(0)",
    ],
}  # fmt: skip


def time_startup(env: dict[str, str], reps: int) -> dict[str, list[float]]:
    """Interleaved, like the runs: `reps` rounds of every STARTUP command."""
    samples: dict[str, list[float]] = {name: [] for name in STARTUP}
    for _ in range(reps):
        for name, argv in STARTUP.items():
            samples[name].append(timed_run(argv, env))
    return samples


# -- the benchmark ---------------------------------------------------------------------


def run(quick: bool) -> Report:
    p = QUICK if quick else FULL
    rng = random.Random(p.seed)
    cases: dict[str, dict[str, list[float]]] = {}
    with synchub_home() as home, home.services() as svc:
        sets = {
            "big": make_big(home.root / "big", p, rng),
            "small": make_small(home.root / "small", p, rng),
        }
        for name, src in sets.items():
            dst = home.root / f"{name}-dst"
            params = {"source": str(src), "destination": str(dst)}
            svc.jobs.add(name, JobFields(params=params, retries=0))
            bare = synchub_argv(params)
            reps = p.small_reps if name == "small" else p.reps
            cases[f"{name} cold"] = measure_case(home, svc, name, bare, dst, cold=True, reps=reps)
            time_synchub(home, svc, name)  # settle: the destination is in sync from here
            cases[f"{name} no-change"] = measure_case(
                home, svc, name, bare, dst, cold=False, reps=reps
            )
        mixed = make_mixed(home.root / "mixed", p, rng)
        for op in ("copy", "sync"):
            # into an empty destination, a sync is one pass (nothing to delete), like
            # the copy; both against bare rclone running the same op
            job, dst = f"mixed-{op}", home.root / f"mixed-{op}-dst"
            params = {"source": str(mixed), "destination": str(dst), "op": op}
            svc.jobs.add(job, JobFields(params=params, retries=0))
            cases[f"mixed {op} cold"] = measure_case(
                home, svc, job, synchub_argv(params), dst, cold=True, reps=p.mixed_reps
            )
        startup = time_startup(home.env, p.startup_reps)
    m = medians(cases, startup)
    per_file = {
        name: (m[f"{name} cold"]["cpu"] - m[f"{name} no-change"]["cpu"]) / files
        for name, files in (("small", p.small_files), ("big", p.big_files))
    }
    data = {"cases": cases, "startup": startup, "medians": m, "cpu_per_file": per_file}
    return Report("overhead", asdict(p), data, summary(p, m, per_file))


def medians(
    cases: dict[str, dict[str, list[float]]], startup: dict[str, list[float]]
) -> dict[str, dict[str, float]]:
    """Medians of every series, and of the pairwise differences and ratios to bare
    rclone: a pair ran back to back, so drift over the session cancels out."""
    result = {case: paired(samples) for case, samples in cases.items()}
    result["startup"] = {k: statistics.median(v) for k, v in startup.items()}
    return result


def paired(samples: dict[str, list[float]]) -> dict[str, float]:
    result = {k: statistics.median(v) for k, v in samples.items()}
    bare = samples["bare"]
    for key in ("e2e", "run"):
        pairs = list(zip(samples[key], bare, strict=True))
        result[f"{key}_minus_bare"] = statistics.median(a - b for a, b in pairs)
        ratios = [a / b - 1 for a, b in pairs]
        result[f"{key}_over_bare"] = statistics.median(ratios)
        low, _, high = (
            statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else ratios * 3
        )
        result[f"{key}_over_bare_q1"], result[f"{key}_over_bare_q3"] = low, high
    return result


#: case -> (goal, the figure it is on, its limit): the run against bare rclone
GOALS = {
    "big cold": ("<= 2 % slower", "run_over_bare", GOAL_BIG_PCT / 100),
    "big no-change": ("<= 30 ms more", "run_minus_bare", GOAL_NOCHANGE_MS / 1000),
    "small cold": ("<= 5 % slower", "run_over_bare", GOAL_SMALL_PCT / 100),
    "small no-change": ("<= 30 ms more", "run_minus_bare", GOAL_NOCHANGE_MS / 1000),
    "mixed copy cold": ("<= 5 % slower", "run_over_bare", GOAL_SMALL_PCT / 100),
    "mixed sync cold": ("<= 5 % slower", "run_over_bare", GOAL_SMALL_PCT / 100),
}


def verdicts(m: dict[str, dict[str, float]]) -> list[str]:
    """Each goal met or missed, by the median of its case's pairs, with their spread."""
    lines = []
    for case, (goal, key, limit) in GOALS.items():
        med = m.get(case)
        if med is None:
            continue
        spread = (f"pairs' quartiles {med['run_over_bare_q1'] * 100:+.1f}% .. "
                  f"{med['run_over_bare_q3'] * 100:+.1f}%")  # fmt: skip
        verdict = "met" if med[key] <= limit else "MISSED"
        lines.append(f"  {case}: run {_diff(med, 'run')} ({spread}); goal {goal}: {verdict}")
    return lines


def summary(p: Params, m: dict[str, dict[str, float]], per_file: dict[str, float]) -> list[str]:
    rows = [
        [
            case,
            f"{med['bare'] * 1000:.0f}",
            f"{med['e2e'] * 1000:.0f}",
            _diff(med, "e2e"),
            f"{med['run'] * 1000:.0f}",
            _diff(med, "run"),
            f"{med['claim_to_spawn'] * 1000:.1f}",
            f"{med['cpu'] * 1000:.0f}",
            f"{med['rclone_cpu'] * 1000:.0f} / {med['bare_cpu'] * 1000:.0f}",
        ]
        for case, med in m.items()
        if case != "startup"
    ]
    header = ["median ms", "bare", "synchub e2e", "e2e - bare", "run", "run - bare",
              "claim→spawn", "synchub CPU", "its rclone / bare CPU"]  # fmt: skip
    start = m["startup"]
    return [
        f"overhead: {p.reps} interleaved pairs per case ({p.small_reps} for the small set, "
        f"{p.mixed_reps} for the mixed set), each pair's order alternating; "
        f"big = {p.big_files} x {p.big_mib} MiB, "
        f"small = {p.small_files} x {p.small_min_kib}-{p.small_max_kib} KiB, mixed = "
        f"{p.mixed_small} x {p.mixed_small_kib} KiB + {p.mixed_big} x {p.mixed_big_mib} MiB "
        "(bare rclone runs synchub's own rclone command line); differences are medians of "
        "the pairs' differences",
        *table(header, rows),
        "python start-up: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in start.items()),
        "synchub's own CPU (start-up included; clock ticks of "
        f"{_TICK_S * 1000:.0f} ms) per file, cold less no-change: "
        + ", ".join(f"{name} {cpu * 1e6:.0f} µs" for name, cpu in per_file.items()),
        "goals (the run against bare rclone, median of the pairs):",
        *verdicts(m),
    ]


def _diff(med: dict[str, float], key: str) -> str:
    return f"{med[f'{key}_minus_bare'] * 1000:+.0f} ({med[f'{key}_over_bare'] * 100:+.1f}%)"
