"""Run pages left open: `streams` run pages' event streams following runs whose
progress moves every second, while one API client reads. Does the API stay quick?

The runs are made running in the database, claimed by a stand-in worker that renews
their heartbeats with new progress once a second (one transaction for all), so each
stream has a new `progress` panel to send every second, as under a live transfer.
The streams are held by a process of their own (`python -m bench.pages_live hold
SPEC OUT`, asyncio over httpx, one connection each, signed in with the console's
cookie), as that many browser tabs would. The reader asks, one request at a time
every `pace_s`, for the API's first page of runs and for a job by turns; its
latency counts from when it meant to send (no coordinated omission). It reads for
`duration_s` with no stream open, then for as long with every stream open and past
its first event.

    python -m bench.pages_live hold SPEC OUT   # the stream holder (SPEC: JSON file)
    python -m bench.pages_live alone [DB [JOBS [RUNS [STREAMS [SECONDS]]]]]
        # the scenario on its own: sqlite 1000 50000 100 5 (`bench pages --quick`'s)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

GOAL_READ_P99_MS = 100.0
WORKER = "bench-pages:0:live"


def start_runs(db_url: str, job_ids: list[int], count: int) -> list[int]:
    """`count` runs of distinct jobs, running under the stand-in worker."""
    from synchub.core.clock import SystemClock
    from synchub.core.runs import Trigger
    from synchub.store import claim as claim_store
    from synchub.store import jobs as job_store
    from synchub.store import runs as run_store
    from synchub.store.db import make_engine, make_sessionmaker, transaction

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    clock = SystemClock()
    run_ids = []
    try:
        for job_id in random.Random(3).sample(job_ids, count):
            # Queued and claimed in one transaction: the server's scheduler never
            # sees it waiting, so its own workers leave it alone.
            with transaction(sessions) as session:
                job = job_store.get_by_id(session, job_id)
                assert job is not None
                now = clock.now()
                run_id = run_store.create(session, job, trigger=Trigger.API, now=now)
                assert run_id is not None
                run_store.mark_queued(session, [run_id], now)
                claimed = claim_store.claim(session, run_id, worker=WORKER, now=now)
                if claimed is not claim_store.Claim.CLAIMED:
                    raise RuntimeError(f"run {run_id} was not claimed: {claimed.value}")
            run_ids.append(run_id)
    finally:
        engine.dispose()
    return run_ids


class Beater:
    """Renews the runs' heartbeats with new progress each second, until stopped."""

    def __init__(self, db_url: str, run_ids: list[int]) -> None:
        self.db_url, self.run_ids = db_url, run_ids
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.beats = 0

    def __enter__(self) -> Beater:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        self.thread.join(30)

    def _beat(self) -> None:
        from synchub.core.clock import SystemClock
        from synchub.store import heartbeats
        from synchub.store.db import make_engine, make_sessionmaker, transaction

        engine = make_engine(self.db_url)
        sessions = make_sessionmaker(engine)
        clock = SystemClock()
        try:
            while not self.stopping.wait(1.0):
                self.beats += 1
                n = self.beats
                progress = {
                    "bytes": n * 4_000_000, "total_bytes": 10**12, "transfers": n,
                    "elapsed_s": float(n), "speed_bps": 4e6, "percent": n % 100,
                }  # fmt: skip
                with transaction(sessions) as session:
                    for run_id in self.run_ids:
                        heartbeats.heartbeat(
                            session, run_id, worker=WORKER, now=clock.now(), progress=progress
                        )
        finally:
            engine.dispose()


def scenario(
    url: str,
    token: str,
    cookies: dict[str, str],
    run_ids: list[int],
    job_names: list[str],
    *,
    duration_s: float,
    pace_s: float,
    workdir: Path,
) -> dict[str, Any]:
    """The reader's latencies without and then with the streams open, and what the
    streams received."""
    paths = ["/api/v1/runs?limit=50", *(f"/api/v1/jobs/{n}" for n in job_names[:50])]
    alone = read(url, token, paths, duration_s, pace_s)
    spec = workdir / "hold.json"
    out, ready, stop = workdir / "held.json", workdir / "held.ready", workdir / "held.stop"
    spec.write_text(json.dumps({"url": url, "cookies": cookies, "run_ids": run_ids,
                                "ready": str(ready), "stop": str(stop)}))  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-m", "bench.pages_live", "hold", str(spec),
                               str(out)], cwd=Path(__file__).resolve().parent.parent)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if holder.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the streams did not all open and speak within 120 s")
            time.sleep(0.1)
        held = read(url, token, paths, duration_s, pace_s)
        stop.touch()
        holder.wait(60)
    finally:
        if holder.poll() is None:
            holder.kill()
    streams = json.loads(out.read_text())
    return {"alone": alone, "streams_open": held, "streams": streams}


def read(url: str, token: str, paths: list[str], duration_s: float, pace_s: float) -> list[float]:
    """Latencies (ms) of paced reads, each from when it was meant to be sent."""
    headers = {"authorization": f"Bearer {token}", "accept-encoding": "gzip"}
    ms = []
    with httpx.Client(base_url=url, headers=headers, timeout=60, trust_env=False) as client:
        client.get(paths[0])  # the connection made before the clock starts
        start = due = time.perf_counter()
        i = 0
        while due - start < duration_s:
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            answer = client.get(paths[i % len(paths)])
            if answer.status_code != 200:
                raise RuntimeError(f"GET {paths[i % len(paths)]} answered {answer.status_code}")
            ms.append((time.perf_counter() - due) * 1000)
            due += pace_s
            i += 1
    return ms


def summary(figures: dict[str, Any]) -> list[str]:
    """`figures`: the latencies summarized (`alone`, `streams_open`) and `streams`."""
    alone, held = figures["alone"], figures["streams_open"]
    s = figures["streams"]
    return [
        f"API reads (one client, paced): alone p50 {alone['p50']:.1f} p99 {alone['p99']:.1f} "
        f"ms; with {s['streams']} run pages streaming p50 {held['p50']:.1f} p99 "
        f"{held['p99']:.1f} ms (goal p99 <= {GOAL_READ_P99_MS:.0f}); the streams received "
        f"{s['progress_events']} progress events ({s['per_stream_min']}-"
        f"{s['per_stream_max']} each), {s['errors']} errors"
    ]


# -- the stream holder, a process of its own ---------------------------------------------


async def _hold(spec: dict[str, Any]) -> dict[str, Any]:
    """Streams of `run_ids` (a run listed twice is followed twice): the console's run
    page with its cookies, or the API's run events with `token` (`kind` "api")."""
    run_ids: list[int] = spec["run_ids"]
    counts = [0] * len(run_ids)
    spoke: set[int] = set()
    errors: list[str] = []
    stop = Path(spec["stop"])
    api = spec.get("kind") == "api"
    headers = {"authorization": f"Bearer {spec['token']}"} if api else {}

    async def follow(i: int, run_id: int) -> None:
        path = f"/api/v1/runs/{run_id}/events" if api else f"/runs/{run_id}/events"
        async with httpx.AsyncClient(
            base_url=spec["url"], cookies=spec["cookies"], headers=headers, timeout=None,
            trust_env=False,
        ) as client:  # fmt: skip
            try:
                async with client.stream("GET", path) as answer:
                    if answer.status_code != 200:
                        errors.append(f"run {run_id}: {answer.status_code}")
                        return
                    async for line in answer.aiter_lines():
                        if line == "event: progress":
                            counts[i] += 1
                            spoke.add(i)
                        elif line == "event: end":
                            errors.append(f"run {run_id} ended")
                            return
            except httpx.HTTPError as exc:
                errors.append(f"run {run_id}: {type(exc).__name__}")

    tasks = [asyncio.create_task(follow(i, run_id)) for i, run_id in enumerate(run_ids)]
    while len(spoke) < len(run_ids) and not all(t.done() for t in tasks):
        await asyncio.sleep(0.1)
    Path(spec["ready"]).touch()
    at_ready = list(counts)
    while not stop.exists() and not all(t.done() for t in tasks):
        await asyncio.sleep(0.1)
    received = [n - m for n, m in zip(counts, at_ready, strict=True)]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "streams": len(run_ids),
        "progress_events": sum(received),
        "per_stream_min": min(received),
        "per_stream_max": max(received),
        "errors": len(errors),
        "error_samples": errors[:5],
    }


def alone(db_kind: str, jobs: int, runs: int, streams: int, seconds: float) -> dict[str, Any]:
    """`bench pages`' streaming scenario on its own: the same seed (`jobs` and `runs`),
    `synchub serve`, the reader alone and then beside `streams` run pages."""
    from bench import pages
    from bench.api import on_each_database
    from bench.common import serve

    def measure(db: Any) -> dict[str, Any]:
        db.home.cli("init")
        p = pages.Params(jobs=jobs, runs=runs)
        names, _seeded_s = pages.prepare(db, p)
        token = pages._token(db)
        with serve(db.home) as server, pages._signed_in(server_url(server.port), token) as c:
            run_ids = start_runs(db.url, list(range(1, jobs + 1)), streams)
            with Beater(db.url, run_ids):
                live = scenario(server_url(server.port), token, dict(c.cookies), run_ids,
                                names, duration_s=seconds, pace_s=p.pace_s,
                                workdir=db.home.root)  # fmt: skip
        return live

    results, _notes = on_each_database((db_kind,), measure)
    return results[db_kind]


def server_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "hold":
        spec = json.loads(Path(sys.argv[2]).read_text())
        result = asyncio.run(_hold(spec))
        Path(sys.argv[3]).write_text(json.dumps(result))
        os._exit(0)  # the cancelled streams' clients are not worth waiting for
    if len(sys.argv) >= 2 and sys.argv[1] == "alone":
        from bench.common import summarize

        db, jobs, runs, streams, seconds = (sys.argv[2:] + ["sqlite", "1000", "50000", "100",
                                                             "5"][len(sys.argv) - 2:])  # fmt: skip
        live = alone(db, int(jobs), int(runs), int(streams), float(seconds))
        figures = {"alone": summarize(live["alone"]), "streams_open": summarize(
            live["streams_open"]), "streams": live["streams"]}  # fmt: skip
        print(json.dumps(figures))
        print(f"{db}: " + summary(figures)[0])
        return
    raise SystemExit(
        "usage: python -m bench.pages_live hold SPEC OUT\n"
        "       python -m bench.pages_live alone [DB [JOBS [RUNS [STREAMS [SECONDS]]]]]"
    )


if __name__ == "__main__":
    main()
