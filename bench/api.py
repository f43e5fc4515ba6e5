"""REST API reads over a large history, and run-state writes while 200 clients read.

For each database (SQLite in the home; PostgreSQL in a throw-away database on
SYNCHUB_BENCH_PG, default postgresql+psycopg://postgres@127.0.0.1:5432, dropped
afterwards): `synchub init`, then `jobs` jobs and `runs` runs bulk-inserted into the
real schema (see bench/api_seed.py), an admin token, and `synchub serve` on loopback.
The load comes from other processes (bench/api_load.py):

1. **latency**: one client, one endpoint at a time, `window_s` each, in `rounds`
   rounds (endpoints interleaved, so a busy moment of the machine does not land on
   one endpoint alone): `GET /api/v1/runs?limit=50` (the first page), the same with
   a deep cursor (a random run among the oldest tenth), `GET /api/v1/jobs/{name}` (a
   random job), and pages of `GET /api/v1/jobs` of the default size (100): the
   first, a deep one (the cursor a random job among the last tenth by name, at
   least a page from the end), the first of a tag, and the first of a `search`
   that matches one job (so the database reads every name to fill it).
2. **writer alone**: a writer process moving runs through their states with the
   store functions (queue, claim, heartbeats, end), as fast as it goes.
3. **readers**: `readers` clients in a closed loop (the next request as soon as the
   last is answered: the server saturated) on a mix of the first page, deep pages and
   single jobs.
4. **readers + writer**: both at once, over the same measured window.
5. **paced readers**: each reader sends one request every `pace_s` seconds, as a
   console refreshing itself would; first alone, then **+ writer**.

The readers of scenarios 3-5 are wrk processes when `wrk` is installed (`client`
"auto" or "wrk"; bench/wrk_reader.lua), else httpx in one Python process
(bench/api_load.py): on 2 cores the httpx client's own CPU (10-40 % of a core) and
its event loop's delays are part of what it measures; wrk's are not. Scenario 1
(one client) always uses httpx.

Per scenario the load average and the CPU used by the server, the load and the rest
of the machine are recorded beside the figures, and how long the server's threads
waited for a CPU while runnable (the kernel's schedstat): on a busy 2-core machine
that wait, not the server's work, is what a request's tail is made of. With
`endpoints` (`--endpoint`) only scenario 1 runs, on those endpoints.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.api_seed import TAGS, seed
from bench.common import (
    REPO,
    Home,
    Report,
    cpu_seconds,
    descendants,
    serve,
    summarize,
    synchub_home,
    table,
)
from synchub.api.pagination import encode_cursor
from synchub.config import Settings
from synchub.services import Services
from synchub.store.db import make_engine

GOAL_P99_MS = 50.0
WRK_MISSING = (
    "wrk is not installed: the readers of scenarios 3-5 are httpx in a Python process, "
    "which shares the cores with the server and adds its own delays (section 4 of "
    "bench/RESULTS.md). Install wrk for the figures reported there: "
    "`apt-get install wrk` (Debian, Ubuntu), `dnf install wrk` (Fedora), "
    "`brew install wrk` (macOS)."
)
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432"
#: endpoint label -> how it is shown
ENDPOINTS = {
    "runs": "GET /runs?limit=50, first page",
    "runs_deep": "GET /runs?limit=50, deep cursor",
    "job": "GET /jobs/{name}",
    "jobs": "GET /jobs, first page (100)",
    "jobs_deep": "GET /jobs, deep cursor (100)",
    "jobs_tag": "GET /jobs?tag=, first page",
    "jobs_search": "GET /jobs?search=, 1 match",
}
#: what the readers of scenarios 3 and 4 ask for
MIX = {"runs": 0.4, "runs_deep": 0.2, "job": 0.4}


@dataclass(frozen=True)
class Params:
    jobs: int = 10_000
    runs: int = 100_000
    rounds: int = 5  #: latency rounds, every endpoint once per round
    window_s: float = 2.0  #: one endpoint in one round, one client
    min_requests: int = 3  #: per endpoint and window, however long they take
    readers: int = 200
    pace_s: float = 4.0  #: scenario 5: each reader's time between requests
    mixed_s: float = 15.0  #: the measured window of scenarios 2-5
    warmup_s: float = 2.0  #: unrecorded, before each measured window
    heartbeats: int = 2  #: per run the writer moves
    workers: int = 4  #: SYNCHUB_WORKERS of serve (the pool; idle here)
    sql: tuple[str, ...] = field(default=())  #: run after seeding, e.g. a CREATE INDEX
    #: only these ENDPOINTS, in scenario 1 alone; empty: every endpoint, every scenario
    endpoints: tuple[str, ...] = field(default=())
    #: readers of scenarios 3-5: "wrk", "httpx", or "auto" (wrk when installed)
    client: str = "auto"


DEFAULT = Params()
FULL = Params(runs=1_000_000)
QUICK = Params(jobs=1_000, runs=10_000, rounds=1, window_s=1.0, mixed_s=4.0, warmup_s=1.0)


# -- databases ---------------------------------------------------------------------------


@dataclass
class Database:
    kind: str  #: "sqlite" or "postgresql"
    url: str
    home: Home


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with synchub_home(init=False) as home:
        yield Database("sqlite", f"sqlite:///{home.path / 'synchub.db'}", home)


@contextmanager
def postgres_database(base: str) -> Iterator[Database]:
    """A throw-away database on the server at `base`, dropped afterwards."""
    import psycopg

    name = f"synchub_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{base}/{name}"
        with synchub_home({"SYNCHUB_DATABASE_URL": url}, init=False) as home:
            yield Database("postgresql", url, home)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reachable(base: str) -> str | None:
    """None when PostgreSQL answers at `base`, else why not."""
    try:
        import psycopg

        admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
        with psycopg.connect(admin, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def on_each_database(
    databases: tuple[str, ...], work: Callable[[Database], dict[str, Any]]
) -> tuple[dict[str, Any], list[str]]:
    """`work` on a throw-away database of each kind asked (default both): the results
    by kind, and notes on the kinds that could not be reached."""
    pg_base = os.environ.get("SYNCHUB_BENCH_PG", PG_DEFAULT)
    results: dict[str, Any] = {}
    notes: list[str] = []
    for kind in databases or ("sqlite", "postgresql"):
        if kind == "sqlite":
            with sqlite_database() as db:
                results[kind] = work(db)
        elif (why := postgres_reachable(pg_base)) is not None:
            notes.append(f"postgresql skipped: not reachable at {pg_base} ({why})")
        else:
            with postgres_database(pg_base) as db:
                results[kind] = work(db)
    return results, notes


def prepare(db: Database, p: Params) -> dict[str, Any]:
    """Seed the database, run `p.sql`, make a token; what the load needs to know."""
    engine = make_engine(db.url)
    try:
        seeded = seed(engine, p.jobs, p.runs)
        with engine.begin() as conn:
            for statement in p.sql:
                conn.exec_driver_sql(statement)
        size = _size(db, engine)
    finally:
        engine.dispose()
    settings = Settings(home=db.home.path, database_url=db.url, default_tz="UTC")
    svc = Services(settings, actor="bench")
    try:
        token, _view = svc.tokens.create("bench", "admin")
    finally:
        svc.close()
    rng = random.Random(99)
    deep_top = seeded.min_run_id + max(1, (seeded.max_run_id - seeded.min_run_id) // 10)
    deep = [rng.randint(seeded.min_run_id + 50, deep_top) for _ in range(500)]
    names = rng.sample(seeded.job_names, min(500, len(seeded.job_names)))
    by_name = sorted(seeded.job_names)
    # Among the last tenth by name, but a whole page (100) from the end.
    deep_names = by_name[len(by_name) - max(len(by_name) // 10, 101) : -100] or by_name[:1]
    deep_jobs = [rng.choice(deep_names) for _ in range(500)]
    return {
        "token": token,
        "paths": {
            "runs": ["/api/v1/runs?limit=50"],
            "runs_deep": [f"/api/v1/runs?limit=50&cursor={encode_cursor(i)}" for i in deep],
            "job": [f"/api/v1/jobs/{n}" for n in names],
            "jobs": ["/api/v1/jobs"],
            "jobs_deep": [f"/api/v1/jobs?cursor={encode_cursor(n)}" for n in deep_jobs],
            "jobs_tag": [f"/api/v1/jobs?tag={tag}" for tag in TAGS],
            # A job's number, zero-padded as in its name: in that name alone.
            "jobs_search": [f"/api/v1/jobs?search=-{n[-5:]}" for n in names],
        },
        "job_ids": list(range(1, p.jobs + 1)),
        "seed": {
            "seconds": seeded.seconds,
            "states": seeded.states,
            "triggers": seeded.triggers,
            "run_ids": [seeded.min_run_id, seeded.max_run_id],
            "database_mib": size / 2**20,
        },
    }


def _size(db: Database, engine: Any) -> int:
    if db.kind == "sqlite":
        return sum(f.stat().st_size for f in db.home.path.glob("synchub.db*"))
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())


# -- load processes --------------------------------------------------------------------------


@dataclass
class LoadProcess:
    proc: subprocess.Popen[bytes]
    out: Path  #: where it writes its JSON result


def _spawn(mode: str, spec: dict[str, Any], workdir: Path) -> LoadProcess:
    tag = uuid.uuid4().hex[:8]
    spec_path, out = workdir / f"{mode}-{tag}.json", workdir / f"{mode}-{tag}.out.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "bench.api_load", mode, str(spec_path), str(out)]
    return LoadProcess(subprocess.Popen(argv, env=env, cwd=REPO), out)


def _result(load: LoadProcess, timeout_s: float) -> dict[str, Any]:
    try:
        load.proc.wait(timeout=timeout_s)
    except BaseException:  # a timeout, Ctrl-C or SIGTERM: stop it, then say why
        load.proc.kill()
        load.proc.wait()
        raise
    if load.proc.returncode != 0:
        raise RuntimeError(f"bench.api_load exited {load.proc.returncode}")
    result: dict[str, Any] = json.loads(load.out.read_text())
    return result


@dataclass(frozen=True)
class Target:
    """A served database and what the load processes need to work on it."""

    url: str  #: of the server
    db_url: str
    ctx: dict[str, Any]  #: from `prepare`
    server_pid: int
    workdir: Path  #: for the load processes' specs and results

    def db_pids(self) -> list[int]:
        """PostgreSQL's backends connected to this database (none for SQLite)."""
        if not self.db_url.startswith("postgresql"):
            return []
        import psycopg

        url = self.db_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            ).fetchall()
        return [int(pid) for (pid,) in rows]


class Meter:
    """CPU of the server, of the load processes, of PostgreSQL's backends serving the
    benchmark's database, and of the rest of the machine; and the load average, over
    one scenario. Shares are of one core (the machine has `nproc` of them)."""

    def __init__(self, t: Target, load_pids: list[int]) -> None:
        self.t, self.load = t, load_pids
        self.db_start = {pid: _cpu_or_zero(pid) for pid in t.db_pids()}
        self.sched_start = _schedstat(t.server_pid)
        self.start = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        ticks = [int(v) for v in fields]
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
        t = os.times()
        mine = t.user + t.system + t.children_user + t.children_system
        # The load processes and theirs (wrk's, which are reaped only at the end).
        mine += sum(_cpu_or_zero(pid) for top in self.load for pid in [top, *descendants(top)])
        return time.perf_counter(), busy, mine, cpu_seconds(self.t.server_pid)

    def stop(self) -> dict[str, float]:
        end = self._read()
        wall, busy, mine, server = (b - a for a, b in zip(self.start, end, strict=True))
        # Backends that came meanwhile count from 0; those gone are lost (a pool keeps
        # its connections, so few come and go).
        db = sum(
            max(0.0, _cpu_or_zero(pid) - self.db_start.get(pid, 0.0)) for pid in self.t.db_pids()
        )
        # Threads that came meanwhile count from 0; those gone are lost (anyio's
        # threads leave after 10 s idle, rarely while requests come).
        sched = _schedstat(self.t.server_pid)
        ran = sum(v[0] - self.sched_start.get(tid, (0.0, 0.0))[0] for tid, v in sched.items())
        waited = sum(v[1] - self.sched_start.get(tid, (0.0, 0.0))[1] for tid, v in sched.items())
        return {
            "wall_s": wall,
            "server_cpu_share": server / wall,
            #: the server's threads' time runnable but not running, per second and per
            #: second of CPU they got (0 on a machine with a core free)
            "server_runqueue_wait_share": waited / wall,
            "server_runqueue_wait_per_cpu_s": waited / ran if ran > 0 else 0.0,
            "load_cpu_share": mine / wall,  #: this process and the load processes
            "db_cpu_share": db / wall,  #: PostgreSQL backends of this database
            "other_cpu_share": max(0.0, busy - server - mine - db) / wall,
            "loadavg_1m": os.getloadavg()[0],
        }


def _schedstat(pid: int) -> dict[str, tuple[float, float]]:
    """Per thread of `pid`: seconds on a CPU, seconds runnable but waiting for one."""
    found = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    for tid in tids:
        try:
            ran, waited, _slices = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
        except (OSError, ValueError):
            continue
        found[tid] = (int(ran) / 1e9, int(waited) / 1e9)
    return found


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except OSError:
        return 0.0


def _phase(name: str, concurrency: int, duration_s: float, mix: dict[str, float],
           p: Params, *, warmup_s: float = 0.0, pace_s: float = 0.0) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name,
        "concurrency": concurrency,
        "duration_s": duration_s,
        "warmup_s": warmup_s,
        "pace_s": pace_s,
        "mix": mix,
        "min_requests": p.min_requests if concurrency == 1 else 0,
    }


def _read_spec(t: Target, phases: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"url": t.url, "token": t.ctx["token"], "paths": t.ctx["paths"], "phases": phases,
            **extra}  # fmt: skip


def latency(t: Target, p: Params) -> list[dict[str, Any]]:
    """Scenario 1: one client, one endpoint at a time, in rounds."""
    rounds = []
    for r in range(p.rounds):
        labels = p.endpoints or tuple(ENDPOINTS)
        phases = [_phase(f"{label} r{r}", 1, p.window_s, {label: 1.0}, p) for label in labels]
        # Connect, and pay whatever a cold start costs once, before the first window.
        phases.insert(0, _phase("warm-up", 1, 0.5, {"runs": 1, "job": 1}, p))
        load = _spawn("read", _read_spec(t, phases), t.workdir)
        meter = Meter(t, [load.proc.pid])
        result = _result(load, timeout_s=600)
        rounds.append({"round": r, "machine": meter.stop(), "phases": result["phases"][1:]})
    return rounds


def mixed(
    t: Target, p: Params, *, readers: bool, writer: bool, pace_s: float = 0.0
) -> dict[str, Any]:
    """Scenarios 2-5: the writer, the readers, or both, over one measured window."""
    start_at = time.time() + 3.0  # both processes imported and waiting by then
    procs = {}
    if readers:
        phase = _phase("readers", p.readers, p.mixed_s, MIX, p, warmup_s=p.warmup_s, pace_s=pace_s)
        mode = "wrk" if p.client == "wrk" else "read"
        procs["readers"] = _spawn(mode, _read_spec(t, [phase], start_at=start_at), t.workdir)
    if writer:
        spec = {
            "db_url": t.db_url,
            "job_ids": t.ctx["job_ids"],
            "heartbeats": p.heartbeats,
            "start_at": start_at,
            "warmup_s": p.warmup_s,
            "duration_s": p.mixed_s,
        }
        procs["writer"] = _spawn("write", spec, t.workdir)
    try:
        time.sleep(max(0.0, start_at + p.warmup_s - time.time()))
        meter = Meter(t, [proc.proc.pid for proc in procs.values()])
        time.sleep(p.mixed_s)
        out: dict[str, Any] = {"machine": meter.stop()}
        for name, proc in procs.items():
            result = _result(proc, timeout_s=p.mixed_s + 300)
            out[name] = result["phases"][0] if name == "readers" else result
        return out
    finally:
        for proc in procs.values():  # after a failure (or Ctrl-C), not left running
            if proc.proc.poll() is None:
                proc.proc.kill()
                proc.proc.wait()


# -- one database ---------------------------------------------------------------------------


def run_database(db: Database, p: Params) -> dict[str, Any]:
    db.home.cli("init")
    ctx = prepare(db, p)
    db.home.env["SYNCHUB_WORKERS"] = str(p.workers)
    with serve(db.home) as server:
        t = Target(f"http://127.0.0.1:{server.port}", db.url, ctx, server.pid, db.home.root)
        if p.endpoints:
            return {"seed": ctx["seed"], "latency": latency(t, p)}
        return {
            "seed": ctx["seed"],
            "latency": latency(t, p),
            "writer": mixed(t, p, readers=False, writer=True),
            "readers": mixed(t, p, readers=True, writer=False),
            "both": mixed(t, p, readers=True, writer=True),
            "paced_alone": mixed(t, p, readers=True, writer=False, pace_s=p.pace_s),
            "paced": mixed(t, p, readers=True, writer=True, pace_s=p.pace_s),
        }


def readers_client(wanted: str) -> tuple[str, list[str]]:
    """The readers' client for `wanted` ("auto", "wrk" or "httpx"), and notes to print."""
    if wanted == "httpx":
        return "httpx", ["readers: httpx (--client httpx)"]
    if shutil.which("wrk") is None:
        if wanted == "wrk":
            raise SystemExit(f"--client wrk: {WRK_MISSING}")
        print(f"note: {WRK_MISSING}", file=sys.stderr, flush=True)
        return "httpx", [f"readers of scenarios 3-5: httpx. {WRK_MISSING}"]
    return "wrk", ["readers of scenarios 3-5: wrk (bench/wrk_reader.lua)"]


def run(quick: bool, *, full: bool = False, databases: tuple[str, ...] = (),
        sql: tuple[str, ...] = (), endpoints: tuple[str, ...] = (),
        client: str = "auto") -> Report:  # fmt: skip
    p = QUICK if quick else FULL if full else DEFAULT
    notes: list[str] = []
    if not endpoints:
        client, notes = readers_client(client)
    p = Params(**{**asdict(p), "sql": sql, "endpoints": endpoints, "client": client})
    results, skipped = on_each_database(databases, lambda db: run_database(db, p))
    notes += skipped
    analysed = {kind: analyse(r) for kind, r in results.items()}
    data = {"databases": results, "figures": analysed, "notes": notes}
    return Report("api", {**asdict(p), "mix": MIX}, data, summary(p, analysed, notes))


# -- analysis -------------------------------------------------------------------------------


def analyse(r: dict[str, Any]) -> dict[str, Any]:
    """The figures: latency per endpoint (all rounds pooled, and p99 per round), the
    readers' latency and throughput, and the writer's rate, alone and together."""
    measured = [label for label in ENDPOINTS if _measured(r, label)]
    pooled: dict[str, list[float]] = {label: [] for label in measured}
    per_round: dict[str, list[float]] = {label: [] for label in measured}
    for rnd in r["latency"]:
        for phase in rnd["phases"]:
            for label, e in phase["endpoints"].items():
                pooled[label] += e["ms"]
                per_round[label].append(summarize(e["ms"])["p99"])
    latency = {
        label: {**summarize(v), "p99_per_round": per_round[label],
                "max_bytes": _max_bytes(r, label), "errors": _errors(r, label)}
        for label, v in pooled.items()
    }  # fmt: skip
    figures: dict[str, Any] = {
        "latency": latency,
        "latency_loadavg": [rnd["machine"]["loadavg_1m"] for rnd in r["latency"]],
        "latency_others": [rnd["machine"]["other_cpu_share"] for rnd in r["latency"]],
    }
    if "writer" not in r:  # scenario 1 only (`endpoints`)
        return figures
    return {
        **figures,
        "writer": _writer(r["writer"]),
        "readers": _readers(r["readers"]),
        "both": {**_readers(r["both"]), "writer": _writer(r["both"])},
        **({"paced_alone": _readers(r["paced_alone"])} if "paced_alone" in r else {}),
        "paced": {**_readers(r["paced"]), "writer": _writer(r["paced"])},
    }


def _errors(r: dict[str, Any], label: str) -> dict[str, int]:
    """Answers other than 200 in scenario 1, by status: a fast 4xx is no figure."""
    found: dict[str, int] = {}
    for rnd in r["latency"]:
        for phase in rnd["phases"]:
            for status, n in phase["endpoints"].get(label, {}).get("status", {}).items():
                if status != "200":
                    found[status] = found.get(status, 0) + n
    return found


def _measured(r: dict[str, Any], label: str) -> bool:
    return any(label in p["endpoints"] for rnd in r["latency"] for p in rnd["phases"])


def _max_bytes(r: dict[str, Any], label: str) -> int:
    return max(
        (p["endpoints"][label]["max_bytes"] for rnd in r["latency"] for p in rnd["phases"]
         if label in p["endpoints"]),
        default=0,
    )  # fmt: skip


def _writer(scenario: dict[str, Any]) -> dict[str, Any]:
    w = scenario["writer"]
    txns = w["transactions_ms"]
    ended = w["runs_ended"]
    state_changes = len(txns["queue"]) + len(txns["claim"]) + len(txns["end"])
    writes = sum(len(v) for v in txns.values())
    return {
        "runs_ended_per_s": ended / w["measured_s"],
        "state_updates_per_s": state_changes / w["measured_s"],
        "write_transactions_per_s": writes / w["measured_s"],
        "transaction_ms": summarize([x for v in txns.values() for x in v]),
        "by_step_ms": {k: summarize(v) for k, v in txns.items()},
        "claims": w["claims"],
        "writer_cpu_share": w["writer_cpu_s"] / w["measured_s"],
        "machine": scenario["machine"],
    }


def _readers(scenario: dict[str, Any]) -> dict[str, Any]:
    phase = scenario["readers"]
    every = [x for e in phase["endpoints"].values() for x in e["ms"]]
    errors = {
        label: {s: n for s, n in e["status"].items() if s != "200"}
        for label, e in phase["endpoints"].items()
    }
    return {
        "requests_per_s": len(every) / phase["measured_s"],
        "all_ms": summarize(every),
        # wrk's exact figures where it ran (its `ms` are rebuilt from quantiles)
        "by_endpoint_ms": {
            label: e.get("summary") or summarize(e["ms"]) for label, e in phase["endpoints"].items()
        },
        "client": phase.get("client", "httpx"),
        "errors": {label: e for label, e in errors.items() if e},
        "client_cpu_share": phase["client_cpu_s"] / phase["measured_s"],
        "machine": scenario["machine"],
    }


def _ms(d: dict[str, float], key: str) -> str:
    return f"{d[key]:,.1f}" if d.get("n") else "-"


def summary(p: Params, figures: dict[str, dict[str, Any]], notes: list[str]) -> list[str]:
    lines = [
        f"api: {p.jobs:,} jobs, {p.runs:,} runs; one client per endpoint ({p.rounds} rounds "
        f"of {p.window_s:g} s)"
        + (f", then {p.readers} readers and/or the writer for {p.mixed_s:g} s"
           if not p.endpoints else ""),
    ]  # fmt: skip
    for kind, f in figures.items():
        rows = []
        for label, d in f["latency"].items():
            rounds = " ".join(f"{x:.0f}" for x in d["p99_per_round"])
            rows.append([ENDPOINTS[label], str(d["n"]), _ms(d, "p50"), _ms(d, "p99"), rounds,
                         f"{d['max_bytes'] / 1024:,.0f}"])  # fmt: skip
        loads = " ".join(f"{x:.1f}" for x in f["latency_loadavg"])
        others = " ".join(f"{x:.0%}" for x in f["latency_others"])
        lines += [
            "",
            f"{kind}: one client; per round, load average {loads}, other processes' CPU "
            f"{others} of a core",
            *table(["ms", "n", "p50", "p99", "p99 per round", "KiB"], rows),
        ]
        failed = {ENDPOINTS[label]: d["errors"] for label, d in f["latency"].items() if d["errors"]}
        if failed:
            lines.append(f"{kind}: ERRORS (status: count) {failed}")
        if "writer" not in f:
            continue
        titles = {
            "readers": f"{p.readers} readers",
            "both": f"{p.readers} readers + writer",
            "paced_alone": f"{p.readers} readers, one request per {p.pace_s:g} s each",
            "paced": f"{p.readers} readers, one request per {p.pace_s:g} s each, + writer",
        }
        for name, title in titles.items():
            if name not in f:
                continue
            rd = f[name]
            rows = [
                [ENDPOINTS[label], str(d.get("n", 0)), _ms(d, "p50"), _ms(d, "p99")]
                for label, d in rd["by_endpoint_ms"].items()
            ]
            m = rd["machine"]
            lines += [
                f"{kind}, {title} ({rd['client']}): {rd['requests_per_s']:,.0f} req/s, server "
                f"{m['server_cpu_share']:.0%} of a core (waited for a CPU "
                f"{m.get('server_runqueue_wait_per_cpu_s', 0.0):.2f} s per s run), load processes "
                f"{m['load_cpu_share']:.0%}, database {m['db_cpu_share']:.0%}, others "
                f"{m['other_cpu_share']:.0%}, load average "
                f"{m['loadavg_1m']:.2f}" + (f"; errors {rd['errors']}" if rd["errors"] else ""),
                *table(["ms", "n", "p50", "p99"], rows),
            ]
        writers = (
            ("writer alone", f["writer"]),
            (f"writer + {p.readers} readers", f["both"]["writer"]),
            (f"writer + {p.readers} paced readers", f["paced"]["writer"]),
        )
        for name, w in writers:
            t = w["transaction_ms"]
            lines.append(
                f"{kind}, {name}: {w['state_updates_per_s']:,.0f} state updates/s "
                f"({w['runs_ended_per_s']:,.0f} runs/s ended, "
                f"{w['write_transactions_per_s']:,.0f} write transactions/s incl. heartbeats; "
                f"transaction p50 {_ms(t, 'p50')} ms, p99 {_ms(t, 'p99')} ms)"
            )
    lines += notes
    lines.append(f"goal: reads p99 <= {GOAL_P99_MS:g} ms")
    return lines
