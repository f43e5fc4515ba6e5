"""The API benchmark's load, each run as a process of its own beside `synchub serve`.

    python -m bench.api_load read SPEC OUT    # HTTP readers on loopback (httpx, asyncio)
    python -m bench.api_load wrk SPEC OUT     # the same readers, made by wrk processes
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

With wrk (`wrk` mode; bench/wrk_reader.lua), one wrk process per endpoint of the mix,
each with its share of the `concurrency` connections (one thread: it waits on sockets,
in C, and takes a few % of a core where httpx takes 10-40 %), first for `warmup_s`
(not recorded), then for `duration_s`. Paced, a reader waits `pace_s` +-20 % between
answer and request (wrk cannot aim at a fixed time); wrk times each request from
writing it, which for a paced reader (nothing else in flight) holds all the server
made it wait. wrk gives quantiles, not samples: each endpoint's `ms` is rebuilt from
`QUANTILES` of them (`summary` has the exact p50, p99 and max).

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


# -- readers under wrk ---------------------------------------------------------------

#: quantiles of each endpoint's latency that wrk prints, to rebuild its distribution
QUANTILES = 400
LUA = Path(__file__).with_name("wrk_reader.lua")


def _wrk_pass(spec: dict[str, Any], phase: dict[str, Any], duration_s: float,
              workdir: Path) -> dict[str, dict[str, Any]]:  # fmt: skip
    """One wrk process per endpoint of the mix, all at once; their parsed outputs."""
    import subprocess

    mix: dict[str, float] = phase["mix"]
    total = sum(mix.values())
    pace_ms = int(phase.get("pace_s", 0.0) * 1000)
    procs = {}
    for label, weight in mix.items():
        conns = max(1, round(phase["concurrency"] * weight / total))
        paths = workdir / f"paths-{label}.txt"
        paths.write_text("\n".join(spec["paths"][label]) + "\n")
        argv = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(duration_s))}s", "--timeout", "60s",
                "-s", str(LUA), spec["url"], "--", str(paths), spec["token"], str(pace_ms),
                str(conns), str(QUANTILES)]  # fmt: skip
        procs[label] = (conns, subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
    return {label: {"connections": conns, **_wrk_output(proc.communicate()[0])}
            for label, (conns, proc) in procs.items()}  # fmt: skip


def _wrk_output(text: str) -> dict[str, Any]:
    """The BENCH lines of bench/wrk_reader.lua: counts in requests, times in ms."""
    out: dict[str, Any] = {"quantiles_ms": []}
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        if key == "BENCH":
            out.update({k: int(v) for k, v in (kv.split("=") for kv in rest.split())})
        elif key == "BENCH_EXACT":
            pairs = (kv.split("=") for kv in rest.split())
            out["exact_ms"] = {k: float(v) / 1000 for k, v in pairs}
        elif key == "BENCH_QUANTILES":
            out["quantiles_ms"] = [int(v) / 1000 for v in rest.split()]
    if "requests" not in out:
        raise RuntimeError(f"wrk printed no result: {text[-2000:]}")
    return out


def _wrk_phase(spec: dict[str, Any], phase: dict[str, Any], workdir: Path) -> dict[str, Any]:
    import resource

    if phase.get("warmup_s", 0.0) > 0:
        _wrk_pass(spec, phase, phase["warmup_s"], workdir)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    begin = time.perf_counter()
    passes = _wrk_pass(spec, phase, phase["duration_s"], workdir)
    measured = time.perf_counter() - begin
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    endpoints = {}
    for label, w in passes.items():
        n, quantiles = w["requests"], w["quantiles_ms"]
        # n samples rebuilt from the quantiles: each stands for n / len(quantiles).
        ms = [quantiles[min(len(quantiles) - 1, i * len(quantiles) // n)] for i in range(n)]
        failed = {k: w[k] for k in ("connect", "read", "write", "timeout") if w[k]}
        status = {"200": n - w["status_errors"], **({"4xx/5xx": w["status_errors"]}
                  if w["status_errors"] else {}), **failed}  # fmt: skip
        exact = w.get("exact_ms", {})
        summary = {"n": n, **exact} if n else {"n": 0}
        endpoints[label] = {"ms": ms, "status": status, "max_bytes": 0, "summary": summary,
                            "connections": w["connections"]}  # fmt: skip
    return {
        "name": phase["name"],
        "concurrency": phase["concurrency"],
        "measured_s": measured,
        "client": "wrk",
        "client_cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "endpoints": endpoints,
    }


# -- writer ---------------------------------------------------------------------------


def _write(spec: dict[str, Any]) -> dict[str, Any]:
    from synchub.core.clock import SystemClock
    from synchub.core.runs import RunState, Trigger
    from synchub.store import claim as claim_store
    from synchub.store import heartbeats
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
            claim = claim_store.claim(session, run_id, worker=worker, now=clock.now())
        step("claim", started)
        if started >= measure_from:
            claims[claim.value] += 1
        if claim is not claim_store.Claim.CLAIMED:
            continue
        for i in range(spec["heartbeats"]):
            started = time.perf_counter()
            progress = {"bytes": (i + 1) * 1_000_000, "transfers": i + 1, "elapsed_s": i + 1.0}
            with transaction(sessions) as session:
                heartbeats.heartbeat(
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
    if len(sys.argv) != 4 or sys.argv[1] not in ("read", "wrk", "write"):
        raise SystemExit("usage: python -m bench.api_load read|wrk|write SPEC OUT")
    mode, spec_path, out_path = sys.argv[1:]
    spec = json.loads(Path(spec_path).read_text())
    if mode == "read":
        _wait_until(spec.get("start_at", 0.0))
        result = asyncio.run(_read(spec))
    elif mode == "wrk":
        _wait_until(spec.get("start_at", 0.0))
        workdir = Path(out_path).parent
        result = {"phases": [_wrk_phase(spec, phase, workdir) for phase in spec["phases"]]}
    else:
        result = _write(spec)
    Path(out_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
