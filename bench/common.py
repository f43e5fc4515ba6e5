"""What the benchmarks share: synchub homes, `serve` subprocesses, /proc readings,
statistics and result files. Everything runs on loopback and in temporary directories."""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synchub.config import Settings
from synchub.core.clock import Clock
from synchub.engines.base import Engine
from synchub.engines.rclone.backends import rclone_binary
from synchub.services import Services

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
#: The console script a user runs, from the same virtual environment as this Python.
SYNCHUB = str(Path(sys.executable).parent / "synchub")
MiB = 1024 * 1024
#: The start of the log line the rclone engine writes right after spawning rclone.
SPAWN_LINE = "rclone started"
KiB = 1024

_LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


# -- results ------------------------------------------------------------------


@dataclass
class Report:
    """One benchmark's outcome: raw data for the JSON file, lines for the terminal."""

    name: str
    params: dict[str, Any]
    data: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    other_load: dict[str, float] = field(default_factory=dict)  #: see CpuWatch


def machine() -> dict[str, Any]:
    """The machine and software the figures were measured on."""
    rclone = subprocess.run(
        [rclone_binary(), "version"], capture_output=True, text=True, check=True
    ).stdout
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "mem_total_mib": _meminfo_kib("MemTotal") // 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "rclone": rclone.splitlines()[0],
        "synchub_commit": _commit(),
    }


def _commit() -> str:
    """The commit measured, "+changes" when synchub/ differs from it."""
    git = ["git", "-C", str(REPO)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "synchub"], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _meminfo_kib(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


class CpuWatch:
    """CPU time the rest of the machine used while the benchmark ran: busy time from
    /proc/stat minus this process's own and its reaped children's, and that of
    `server` (a child still running, e.g. `serve`) and its descendants. A benchmark
    that shared the machine with a busy neighbour says so instead of passing off
    noise."""

    def __init__(self, server: int | None = None) -> None:
        self._server = server
        self._start = time.perf_counter(), _machine_busy_s(), self._ours()

    def _ours(self) -> float:
        if self._server is None:
            return _own_cpu_s()
        return _own_cpu_s() + sum(
            _cpu_or_zero(p) for p in [self._server, *descendants(self._server)]
        )

    def others(self) -> dict[str, float]:
        wall, busy, ours = self._start
        wall = time.perf_counter() - wall
        cpu_s = max(0.0, (_machine_busy_s() - busy) - (self._ours() - ours))
        return {"cpu_s": cpu_s, "share": cpu_s / (wall * len(os.sched_getaffinity(0))),
                "loadavg_1m": os.getloadavg()[0]}  # fmt: skip


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (OSError, ValueError):
        return 0.0  # gone meanwhile


def _machine_busy_s() -> float:
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def write_results(report: Report) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{report.name}-{stamp}.json"
    document = {
        "benchmark": report.name,
        "machine": machine(),
        "params": report.params,
        "other_load": report.other_load,
        **report.data,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned text lines: first column left-aligned, the others right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest])

    return [line(header), *(line(r) for r in rows)]


# -- statistics ---------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q`th percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "min": min(values),
        "p50": statistics.median(values),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": statistics.fmean(values),
    }


def seconds_between(start: str, end: str) -> float:
    """Seconds from ISO-8601 `start` to `end`."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def timed(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall-clock seconds `argv` takes to run to its end; raise when it fails."""
    start = time.perf_counter()
    subprocess.run(list(argv), env=env, capture_output=True, check=True)
    return time.perf_counter() - start


# -- synchub homes --------------------------------------------------------------


@dataclass
class Home:
    """A throw-away synchub data directory, and the environment pointing at it."""

    root: Path  #: a temporary directory for the home and any data the benchmark needs
    env: dict[str, str]

    @property
    def path(self) -> Path:
        return self.root / "home"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SYNCHUB, *args], env=self.env, capture_output=True, text=True, check=True
        )

    @contextmanager
    def services(
        self, *, clock: Clock | None = None, engines: dict[str, Engine] | None = None
    ) -> Iterator[Services]:
        """In-process services on this home's database (job definitions, reading runs)."""
        settings = Settings(home=self.path, database_url="", default_tz="UTC")
        svc = Services(settings, clock=clock, engines=engines, actor="bench")
        try:
            yield svc
        finally:
            svc.close()


@contextmanager
def synchub_home(extra_env: dict[str, str] | None = None, *, init: bool = True) -> Iterator[Home]:
    """A home in a temporary directory (initialised unless `init` is False), removed
    afterwards; `extra_env` adds to its environment (e.g. SYNCHUB_DATABASE_URL)."""
    with tempfile.TemporaryDirectory(prefix="synchub-bench-") as tmp:
        root = Path(tmp)
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SYNCHUB_", "DATABASE_URL"))
        }
        env.update(
            SYNCHUB_HOME=str(root / "home"),
            SYNCHUB_DEFAULT_TZ="UTC",
            SYNCHUB_SHUTDOWN_GRACE="5",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env or {})
        home = Home(root, env)
        if init:
            home.cli("init")
        yield home


# -- serve subprocesses -----------------------------------------------------------


@dataclass(frozen=True)
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    healthy_after_s: float  #: from just before the process was started to /healthz = 200

    @property
    def pid(self) -> int:
        return self.proc.pid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(home: Home, *args: str, timeout_s: float = 60.0) -> Iterator[Server]:
    """`synchub serve` on a free loopback port, healthy; stopped (SIGTERM) on exit."""
    port = free_port()
    log_path = home.root / f"serve-{port}.log"
    with log_path.open("wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [SYNCHUB, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=home.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        healthy = _wait_healthy(proc, port, start, timeout_s, log_path)
        yield Server(proc, port, healthy)
    finally:
        stop(proc)


def _wait_healthy(
    proc: subprocess.Popen[bytes], port: int, start: float, timeout_s: float, log_path: Path
) -> float:
    url = f"http://127.0.0.1:{port}/healthz"
    while time.perf_counter() - start < timeout_s:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with _LOOPBACK.open(url, timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"serve did not answer /healthz within {timeout_s}s")


def stop(proc: subprocess.Popen[bytes], grace_s: float = 30.0) -> None:
    """SIGTERM to the process group, SIGKILL when it outstays `grace_s`."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- /proc ----------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def status_field(pid: int, key: str) -> int:
    """An integer field of /proc/PID/status (VmRSS in KiB, Threads, ...); 0 when gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    """Resident memory of `pid` and all its descendants, in KiB."""
    return sum(status_field(p, "VmRSS") for p in [pid, *descendants(pid)])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
