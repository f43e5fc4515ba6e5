"""The web console's main pages over a large history: how long the server takes to
answer each, and how much it sends.

For each database (SQLite in the home; PostgreSQL in a throw-away database on
SYNCHUB_BENCH_PG, as `bench api` does): a copy of `jobs` jobs and `runs` runs
bulk-inserted into the real schema (bench/api_seed.py, the API benchmark's history),
kept between runs of the benchmark (bench/seed_cache.py; `reseed` makes it again),
`synchub init`, one job in a hundred made a watched folder with `tasks_per_folder`
file tasks, an admin token, and `synchub serve` on loopback. One client signs in like a
browser (the session cookie) and asks, in `rounds` rounds, each page `requests`
times in turn: the dashboard `/`, `/jobs`, a job's page (a random job each time),
`/runs` and `/folders`.

The time is the client's, from sending the request to reading the whole answer,
over loopback with one request at a time: the server's time to render the page
plus well under a millisecond of loopback. Sizes are the HTML as sent and gzipped
(level 6, what a compressing proxy sends); the page's static files are cached for a
year after the first visit and not counted.

Then the dashboard's first load as it is transferred: its HTML and static files as
`serve` sends them to a client that accepts gzip (`first_load`); the same, and how
soon the page is ready, in Debian's chromium (bench/pages_browser.py); and, last,
`streams` run pages streaming progress while one client reads the API
(bench/pages_live.py). Each page is also asked in this process, over the same
database: right after the rounds, `requests` times timed, wall-clock and CPU (the
server's own time, no socket or loopback in it; the client's side in this process
is small beside it); last (the streams' runs still running), once more counting the
SQL statements it makes.

The CPU the rest of the machine used meanwhile is recorded for each part (the
rounds, in-process, the browser, the streams; bench/common.py's CpuWatch, the
server's own CPU left out), beside the load average.
"""

from __future__ import annotations

import gzip
import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import event, insert, text

from bench import pages_browser, pages_live, seed_cache
from bench.api import Database, on_each_database
from bench.common import CpuWatch, Report, serve, summarize, table
from synchub.config import Settings
from synchub.services import Services
from synchub.store.db import make_engine
from synchub.store.tables import FileTaskRow

GOAL_P99_MS = 50.0
GOAL_DASHBOARD_KB = 300
GOAL_READY_MS = 1000.0
PAGES = {
    "dashboard": "/",
    "jobs": "/jobs",
    "job": "/jobs/{name}",
    "runs": "/runs",
    "folders": "/folders",
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
STATIC = re.compile(r'(?:href|src)="(/static/[^"]+)"')


@dataclass(frozen=True)
class Params:
    jobs: int = 10_000
    runs: int = 1_000_000
    rounds: int = 5
    requests: int = 20  #: per page and round
    tasks_per_folder: int = 100
    browser_loads: int = 5  #: cold loads of the dashboard in chromium (and as many warm)
    streams: int = 100  #: run pages streaming progress at once
    live_s: float = 30.0  #: the API reader's time alone, then as long with the streams
    pace_s: float = 0.05  #: between the API reader's requests
    reseed: bool = False  #: seed anew, not from the cache (bench/seed_cache.py)


DEFAULT = Params()
QUICK = Params(jobs=1_000, runs=50_000, rounds=2, requests=10, browser_loads=2, live_s=5.0)


def run(quick: bool, *, databases: tuple[str, ...] = (), reseed: bool = False) -> Report:
    p = replace(QUICK if quick else DEFAULT, reseed=reseed)
    results, notes = on_each_database(databases, lambda db: run_database(db, p))
    figures = {kind: analyse(r) for kind, r in results.items()}
    data = {"databases": results, "figures": figures, "notes": notes}
    return Report("pages", asdict(p), data, summary(p, figures, notes))


def run_database(db: Database, p: Params) -> dict[str, Any]:
    seeded = seed_cache.restore(db.kind, db.url, p.jobs, p.runs, reseed=p.reseed)
    db.home.cli("init")
    names = prepare(db, p, seeded["job_names"])
    token = _token(db)
    with serve(db.home) as server:
        try:
            return {"seed": {k: v for k, v in seeded.items() if k != "job_names"},
                    **_measure(db, p, server.pid, server.port, token, names)}  # fmt: skip
        except RuntimeError as exc:  # what the server said of it, before its home goes
            log = (db.home.root / f"serve-{server.port}.log").read_text(errors="replace")
            raise RuntimeError(f"{exc}\nserve's log ends:\n{log[-4000:]}") from exc


def _measure(
    db: Database, p: Params, pid: int, port: int, token: str, names: list[str]
) -> dict[str, Any]:
    rng = random.Random(7)
    loads = {}
    with _signed_in(f"http://127.0.0.1:{port}", token) as client:
        for path in PAGES.values():  # a cold start is paid once, before any figure
            _get(client, path.format(name=names[0]))
        watch, rounds = CpuWatch(pid), []
        for r in range(p.rounds):
            load_before = os.getloadavg()[0]
            pages: dict[str, dict[str, Any]] = {}
            for label, path in PAGES.items():
                ms, largest = [], b""
                for _ in range(p.requests):
                    took, body = _get(client, path.format(name=rng.choice(names)))
                    ms.append(took)
                    largest = max(largest, body, key=len)
                gzipped = len(gzip.compress(largest, compresslevel=6))
                pages[label] = {"ms": ms, "bytes": len(largest), "gzip_bytes": gzipped}
            rounds.append({"round": r, "loadavg_1m": [load_before, os.getloadavg()[0]],
                           "pages": pages})  # fmt: skip
        loads["rounds"] = watch.others()
        watch = CpuWatch(pid)
        inside = in_process(db, token, names, p.requests)
        loads["in_process"] = watch.others()
        first = first_load(client)
        url, cookies = f"http://127.0.0.1:{port}", dict(client.cookies)
        watch = CpuWatch(pid)
        browser = _browser(url, cookies, p.browser_loads)
        loads["browser"] = watch.others()
        load_before = os.getloadavg()[0]
        watch = CpuWatch(pid)
        run_ids = pages_live.start_runs(db.url, list(range(1, p.jobs + 1)), p.streams)
        with pages_live.Beater(db.url, run_ids):
            live = pages_live.scenario(url, token, cookies, run_ids, names, duration_s=p.live_s,
                                       pace_s=p.pace_s, workdir=db.home.root)  # fmt: skip
        live["loadavg_1m"] = [load_before, os.getloadavg()[0]]
        loads["streams"] = watch.others()
    return {"rounds": rounds, "in_process": inside, "queries": queries(db, token, names[0]),
            "first_load": first, "browser": browser, "live": live, "other_load": loads}  # fmt: skip


def first_load(client: httpx.Client) -> dict[str, Any]:
    """The dashboard and every static file it names, as sent to a client that accepts
    gzip (the bodies' bytes on the wire) and as they are."""
    gz = {"accept-encoding": "gzip"}
    page = client.get("/", headers=gz)
    files = {}
    for path in ["/", *dict.fromkeys(STATIC.findall(page.text))]:
        with client.stream("GET", path, headers=gz) as answer:
            sent = sum(len(chunk) for chunk in answer.iter_raw())
        _took, body = _get(client, path)  # as they are: no gzip asked
        files[path] = {"sent": sent, "bytes": len(body)}
    return {
        "files": files,
        "sent": sum(f["sent"] for f in files.values()),
        "bytes": sum(f["bytes"] for f in files.values()),
    }


def _browser(url: str, cookies: dict[str, str], loads: int) -> dict[str, Any]:
    problem = pages_browser.browser_problem()
    if problem is not None:
        return {"skipped": problem}
    return pages_browser.dashboard_loads(url, cookies, loads)


@contextmanager
def _in_process(db: Database, token: str) -> Iterator[tuple[Any, Services]]:
    """A signed-in client of the console in this process, over `db`, and its services."""
    from fastapi.testclient import TestClient

    from synchub.api.app import create_app

    settings = Settings(home=db.home.path, database_url=db.url, default_tz="UTC")
    svc = Services(settings, actor="bench")
    try:
        client = TestClient(create_app(svc=svc), base_url="http://127.0.0.1")
        form = client.get("/login")
        found = CSRF.search(form.text)
        assert found, form.text[:300]
        client.post("/login", data={"token": token, "csrf": found.group(1)})
        yield client, svc
    finally:
        svc.close()


def in_process(db: Database, token: str, names: list[str], requests: int) -> dict[str, Any]:
    """`requests` requests of each page in this process, on the same database, timed
    wall-clock and CPU milliseconds: the server's own time, without socket or loopback."""
    rng = random.Random(11)
    out: dict[str, Any] = {}
    with _in_process(db, token) as (client, _svc):
        for label, path in PAGES.items():
            _in_process_get(client, path.format(name=names[0]))  # caches filled
            timed = [_in_process_get(client, path.format(name=rng.choice(names)))
                     for _ in range(requests)]  # fmt: skip
            out[label] = {"ms": [t[0] for t in timed], "cpu_ms": [t[1] for t in timed]}
    return out


def queries(db: Database, token: str, name: str) -> dict[str, int]:
    """SQL statements each page makes, counted in-process on the same database: a
    page that asked once per row shown (N+1) would count in the dozens."""
    counted = [0]

    def count(*_args: object) -> None:
        counted[0] += 1

    out = {}
    with _in_process(db, token) as (client, svc):
        for label, path in PAGES.items():
            _in_process_get(client, path.format(name=name))  # caches filled, as when timed
            counted[0] = 0
            event.listen(svc.db, "before_cursor_execute", count)
            try:
                _in_process_get(client, path.format(name=name))
            finally:
                event.remove(svc.db, "before_cursor_execute", count)
            out[label] = counted[0]
    return out


def _in_process_get(client: Any, path: str) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    answer = client.get(path)
    took = (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} answered {answer.status_code} in-process")
    return took


def prepare(db: Database, p: Params, names: list[str]) -> list[str]:
    """Watched folders and their file tasks beside the history; the jobs' names."""
    engine = make_engine(db.url)
    try:
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(text("UPDATE jobs SET watch = :yes WHERE id % 100 = 0"), {"yes": True})
            rows = [
                _task(job_id, n, now)
                for job_id in range(100, p.jobs + 1, 100)
                for n in range(p.tasks_per_folder)
            ]
            if rows:
                conn.execute(insert(FileTaskRow), rows)
        return names
    finally:
        engine.dispose()


def _task(job_id: int, n: int, now: datetime) -> dict[str, Any]:
    at = now - timedelta(minutes=n)
    done = n % 20 != 0
    return {
        "job_id": job_id,
        "path": f"scans/{n:05d}.pdf",
        "path_key": f"{job_id:032x}{n:032x}",
        "state": "done" if done else "failed",
        "size": 200_000 + n,
        "bytes": 200_000 + n if done else 0,
        "error": None if done else "source file vanished",
        "created_at": at,
        "seen_at": at,
        "started_at": at,
        "finished_at": at,
    }


def _token(db: Database) -> str:
    settings = Settings(home=db.home.path, database_url=db.url, default_tz="UTC")
    svc = Services(settings, actor="bench")
    try:
        token, _view = svc.tokens.create("bench", "admin")
    finally:
        svc.close()
    return token


class _signed_in:
    """A client with the console's session cookie, as a browser has after sign-in."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=60, trust_env=False)
        form = self.client.get("/login")
        found = CSRF.search(form.text)
        assert found, form.text[:300]
        signed = self.client.post("/login", data={"token": token, "csrf": found.group(1)})
        if signed.status_code != 303:
            raise RuntimeError(f"sign-in answered {signed.status_code}: {signed.text[:300]}")

    def __enter__(self) -> httpx.Client:
        return self.client

    def __exit__(self, *_exc: object) -> None:
        self.client.close()


def _get(client: httpx.Client, path: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    answer = client.get(path, headers={"accept-encoding": "identity"})
    took = (time.perf_counter() - start) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
    return took, answer.content


def analyse(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label in PAGES:
        ms = [x for rnd in r["rounds"] for x in rnd["pages"][label]["ms"]]
        out[label] = {
            **summarize(ms),
            "p99_per_round": [summarize(rnd["pages"][label]["ms"])["p99"] for rnd in r["rounds"]],
            "bytes": max(rnd["pages"][label]["bytes"] for rnd in r["rounds"]),
            "gzip_bytes": max(rnd["pages"][label]["gzip_bytes"] for rnd in r["rounds"]),
            "queries": r["queries"][label],
            "in_process": summarize(r["in_process"][label]["ms"]),
            "in_process_cpu": summarize(r["in_process"][label]["cpu_ms"]),
        }
    out["loadavg_1m"] = [x for rnd in r["rounds"] for x in rnd["loadavg_1m"]]
    out["seed"], out["other_load"] = r["seed"], r["other_load"]
    out["first_load"] = {"sent": r["first_load"]["sent"], "bytes": r["first_load"]["bytes"]}
    browser = r["browser"]
    if "skipped" in browser:
        out["browser"] = browser
    else:
        out["browser"] = {
            kind: {
                "ready_ms": summarize([x["ready_ms"] for x in loads]),
                "transferred": max(x["transferred"] for x in loads),
                "decoded": max(x["decoded"] for x in loads),
            }
            for kind, loads in browser.items()
        }
    live = r["live"]
    out["live"] = {
        "alone": summarize(live["alone"]),
        "streams_open": summarize(live["streams_open"]),
        "streams": live["streams"],
        "loadavg_1m": live["loadavg_1m"],
    }
    return out


def _load_lines(f: dict[str, Any]) -> list[str]:
    first = f["first_load"]
    lines = [
        f"dashboard's first load (HTML and static files, cache empty): {first['sent'] / 1024:,.1f}"
        f" KiB sent gzipped, {first['bytes'] / 1024:,.1f} KiB as they are (goal <= "
        f"{GOAL_DASHBOARD_KB} KB sent)"
    ]
    browser = f["browser"]
    if "skipped" in browser:
        return [*lines, f"chromium: skipped, {browser['skipped']}"]
    for kind in ("cold", "warm"):
        b = browser[kind]
        ready = b["ready_ms"]
        lines.append(
            f"chromium, {kind} cache: ready (load event) p50 {ready['p50']:,.0f} ms, max "
            f"{ready['max']:,.0f} ms over {ready['n']} loads (goal <= {GOAL_READY_MS:.0f}); "
            f"{b['transferred'] / 1024:,.1f} KiB transferred"
        )
    return lines


def summary(p: Params, figures: dict[str, Any], notes: list[str]) -> list[str]:
    lines = [
        f"pages: {p.jobs:,} jobs, {p.runs:,} runs, {p.jobs // 100} watched folders with "
        f"{p.tasks_per_folder} file tasks each; one client, {p.rounds} rounds of "
        f"{p.requests} requests per page, then {p.requests} per page in-process (the "
        "server's own time: no socket, no loopback)"
    ]
    for kind, f in figures.items():
        rows = []
        for label, path in PAGES.items():
            d = f[label]
            inside, cpu = d["in_process"], d["in_process_cpu"]
            rounds = " ".join(f"{x:.0f}" for x in d["p99_per_round"])
            kib, gz = f"{d['bytes'] / 1024:,.0f}", f"{d['gzip_bytes'] / 1024:,.1f}"
            rows.append([f"{label} {path}", str(d["n"]), f"{d['p50']:,.1f}", f"{d['p99']:,.1f}",
                         rounds, f"{inside['p50']:,.1f}", f"{inside['p99']:,.1f}",
                         f"{cpu['p50']:,.1f}", kib, gz, str(d["queries"])])  # fmt: skip
        loads = " ".join(f"{x:.1f}" for x in f["loadavg_1m"])
        header = ["ms", "n", "p50", "p99", "p99 per round", "in p50", "in p99", "in CPU p50",
                  "KiB", "gzip KiB", "SQL"]  # fmt: skip
        lines += ["", f"{kind}: {_seed_line(f['seed'])}",
                  f"load average over the rounds {loads}", *table(header, rows)]  # fmt: skip
        live_load = " ".join(f"{x:.1f}" for x in f["live"]["loadavg_1m"])
        lines += [*_load_lines(f), *pages_live.summary(f["live"]), f"(load {live_load})"]
        lines += [*_goal_lines(f), _other_line(f["other_load"])]
    return lines + [f"note: {n}" for n in notes]


def _seed_line(seed: dict[str, Any]) -> str:
    made = f"seeded in {seed['seconds']:,.1f} s ({seed['cpu_s']:,.1f} CPU-s in the benchmark)"
    if not seed["cached"]:
        return f"{made}, now (--reseed or no cached copy); copied in {seed['copy_s']:,.1f} s"
    shifted = (f", its times moved {seed['shifted_s'] / 3600:,.1f} h on in "
               f"{seed['shift_took_s']:,.1f} s" if seed["shifted_s"] else "")  # fmt: skip
    return (
        f"a cached copy ({made} at {seed['at'][:16]}), copied in {seed['copy_s']:,.1f} s{shifted}"
    )


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _goal_lines(f: dict[str, Any]) -> list[str]:
    """Each goal beside the figure that measures it (on this machine, at this load)."""
    worst = max(PAGES, key=lambda label: f[label]["p99"])
    worst_in = max(PAGES, key=lambda label: f[label]["in_process"]["p99"])
    p99, p99_in = f[worst]["p99"], f[worst_in]["in_process"]["p99"]
    lines = [
        "goals:",
        f"  every page's p99 <= {GOAL_P99_MS:.0f} ms: worst {worst} {p99:,.1f} ms over HTTP "
        f"({_met(p99 <= GOAL_P99_MS)}); in-process worst {worst_in} {p99_in:,.1f} ms "
        f"({_met(p99_in <= GOAL_P99_MS)})",
        f"  dashboard's first load <= {GOAL_DASHBOARD_KB} KB sent: "
        f"{f['first_load']['sent'] / 1000:,.1f} KB "
        f"({_met(f['first_load']['sent'] <= GOAL_DASHBOARD_KB * 1000)})",
    ]
    if "skipped" not in f["browser"]:
        cold, warm = f["browser"]["cold"]["ready_ms"], f["browser"]["warm"]["ready_ms"]
        lines.append(
            f"  ready in chromium <= {GOAL_READY_MS:.0f} ms: empty cache p50 {cold['p50']:,.0f} "
            f"max {cold['max']:,.0f}, warm p50 {warm['p50']:,.0f} max {warm['max']:,.0f} "
            f"({'met at every load' if cold['max'] <= GOAL_READY_MS else 'MISSED at some load'})"
        )
    alone, held = f["live"]["alone"]["p99"], f["live"]["streams_open"]["p99"]
    goal = pages_live.GOAL_READ_P99_MS
    lines.append(f"  API reads' p99 <= {goal:.0f} ms with the run pages streaming: "
                 f"{held:,.1f} ms ({_met(held <= goal)}); alone {alone:,.1f} ms")  # fmt: skip
    return lines


def _other_line(loads: dict[str, dict[str, float]]) -> str:
    parts = [f"{part} {x['share']:.0%} (load {x['loadavg_1m']:.1f})" for part, x in loads.items()]
    return "other processes' share of the machine: " + ", ".join(parts)
