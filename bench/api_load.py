"""The API benchmark's load, each run as a process of its own beside `synchub serve`.

    python -m bench.api_load read SPEC OUT    # HTTP readers on loopback (httpx, asyncio)
    python -m bench.api_load write SPEC OUT   # a writer moving runs through their states

Both read a JSON spec from the file SPEC, wait until its `start_at` (epoch seconds),
work for `warmup_s` unrecorded and `duration_s` recorded, and write a JSON result to OUT.

Readers: `concurrency` clients, each over its own keep-alive connection, each request's
endpoint drawn from `mix` by weight and its path from that endpoint's list. In a closed
loop (`pace_s` 0) a client sends its next request as soon as the last one is answered,
and the latency is from sending the request to the whole body read. Paced, each client
means to send one request every `pace_s` seconds (from a random offset), and the latency
counts from the time it meant to send it: a request held up behind a slow answer counts
its wait (no coordinated omission). A phase ends at its deadline, but not before every
endpoint in it was answered `min_requests` times.

Writer: one thread, as fast as it can, through synchub's store functions, each step its
own transaction as the scheduler and the runner do it: create a run of a random job and
queue it (`create` + `mark_queued`), `claim` it, `heartbeat` it `heartbeats` times with
a progress snapshot, end it (`move` to succeeded with stats).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any


def _wait_until(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system


# -- readers ---------------------------------------------------------------------------


async def _phase(spec: dict[str, Any], phase: dict[str, Any]) -> dict[str, Any]:
    import httpx

    mix: dict[str, float] = phase["mix"]
    labels, weights = list(mix), list(mix.values())
    paths: dict[str, list[str]] = spec["paths"]
    rng = random.Random(phase.get("seed", 1))
    # A client of its own per reader: one shared pool of hundreds of connections
    # costs httpx more CPU per request than the server spends answering it. Made
    # before the clock starts, without TLS (loopback, plain HTTP), which is cheap.
    clients = [
        httpx.AsyncClient(
            base_url=spec["url"],
            headers={"Authorization": f"Bearer {spec['token']}"},
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            timeout=120.0,
            verify=False,
            trust_env=False,  # never a proxy: loopback only
        )
        for _ in range(phase["concurrency"])
    ]
    begin = time.perf_counter()
    measure_from = begin + phase.get("warmup_s", 0.0)
    end = measure_from + phase["duration_s"]
    min_requests = phase.get("min_requests", 0)
    latencies: dict[str, list[float]] = {label: [] for label in labels}
    statuses: dict[str, Counter[str]] = {label: Counter() for label in labels}
    sizes: dict[str, int] = dict.fromkeys(labels, 0)

    def done(now: float) -> bool:
        return now >= end and all(len(v) >= min_requests for v in latencies.values())

    pace_s: float = phase.get("pace_s", 0.0)

    async def client_loop(client: httpx.AsyncClient) -> None:
        due = begin + rng.uniform(0, pace_s)
        async with client:
            while not done(time.perf_counter()):
                label = rng.choices(labels, weights)[0]
                path = rng.choice(paths[label])
                start = time.perf_counter()
                if pace_s:
                    if due > start:
                        await asyncio.sleep(due - start)
                    start, due = due, due + pace_s
                try:
                    response = await client.get(path)
                    status, size = str(response.status_code), len(response.content)
                except httpx.HTTPError as exc:
                    status, size = type(exc).__name__, 0
                stop = time.perf_counter()
                if start >= measure_from:
                    latencies[label].append((stop - start) * 1000)
                    statuses[label][status] += 1
                    sizes[label] = max(sizes[label], size)

    cpu = _cpu_s()
    await asyncio.gather(*(client_loop(client) for client in clients))
    return {
        "name": phase["name"],
        "concurrency": phase["concurrency"],
        "measured_s": time.perf_counter() - measure_from,
        "client_cpu_s": _cpu_s() - cpu,
        "endpoints": {
            label: {
                "ms": latencies[label],
                "status": dict(statuses[label]),
                "max_bytes": sizes[label],
            }
            for label in labels
        },
    }


async def _read(spec: dict[str, Any]) -> dict[str, Any]:
    return {"phases": [await _phase(spec, phase) for phase in spec["phases"]]}


# -- writer ---------------------------------------------------------------------------


def _write(spec: dict[str, Any]) -> dict[str, Any]:
    from synchub.core.clock import SystemClock
    from synchub.core.runs import RunState, Trigger
    from synchub.store import jobs as job_store
    from synchub.store import runs as run_store
    from synchub.store.db import make_engine, make_sessionmaker, transaction

    engine = make_engine(spec["db_url"])
    sessions = make_sessionmaker(engine)
    clock = SystemClock()
    rng = random.Random(spec.get("seed", 2))
    worker = f"bench-writer:{os.getpid()}"
    job_ids: list[int] = spec["job_ids"]
    txn_ms: dict[str, list[float]] = {"queue": [], "claim": [], "heartbeat": [], "end": []}
    claims: Counter[str] = Counter()
    _wait_until(spec["start_at"])
    begin = time.perf_counter()
    measure_from = begin + spec.get("warmup_s", 0.0)
    end = measure_from + spec["duration_s"]
    cycles = 0

    def step(kind: str, started: float) -> None:
        if started >= measure_from:
            txn_ms[kind].append((time.perf_counter() - started) * 1000)

    cpu = _cpu_s()
    while time.perf_counter() < end:
        started = time.perf_counter()
        with transaction(sessions) as session:
            job = job_store.get_by_id(session, rng.choice(job_ids))
            assert job is not None
            now = clock.now()
            run_id = run_store.create(session, job, trigger=Trigger.API, now=now)
            assert run_id is not None
            run_store.mark_queued(session, [run_id], now)
        step("queue", started)
        started = time.perf_counter()
        with transaction(sessions) as session:
            claim = run_store.claim(session, run_id, worker=worker, now=clock.now())
        step("claim", started)
        if started >= measure_from:
            claims[claim.value] += 1
        if claim is not run_store.Claim.CLAIMED:
            continue
        for i in range(spec["heartbeats"]):
            started = time.perf_counter()
            progress = {"bytes": (i + 1) * 1_000_000, "transfers": i + 1, "elapsed_s": i + 1.0}
            with transaction(sessions) as session:
                run_store.heartbeat(
                    session, run_id, worker=worker, now=clock.now(), progress=progress
                )
            step("heartbeat", started)
        started = time.perf_counter()
        with transaction(sessions) as session:
            stats = {"bytes": 3_000_000, "files": 3, "elapsed_s": 3.0, "speed_bps": 1e6}
            run_store.move(
                session,
                run_id,
                RunState.SUCCEEDED,
                expected=[RunState.RUNNING],
                finished_at=clock.now(),
                exit_code=0,
                stats=stats,
                progress=None,
            )
        step("end", started)
        if started >= measure_from:
            cycles += 1
    measured = time.perf_counter() - measure_from
    engine.dispose()
    return {
        "measured_s": measured,
        "writer_cpu_s": _cpu_s() - cpu,
        "runs_ended": cycles,
        "claims": dict(claims),
        "transactions_ms": txn_ms,
    }


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in ("read", "write"):
        raise SystemExit("usage: python -m bench.api_load read|write SPEC OUT")
    mode, spec_path, out_path = sys.argv[1:]
    spec = json.loads(Path(spec_path).read_text())
    if mode == "read":
        _wait_until(spec.get("start_at", 0.0))
        result = asyncio.run(_read(spec))
    else:
        result = _write(spec)
    Path(out_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
