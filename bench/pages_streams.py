"""What open run streams cost the server: its CPU and its SQL statements per second
while `streams` streams follow `runs` runs whose progress moves every second.

The server is the app in this process (uvicorn in a thread, no scheduler: the runs
stay as the bench makes them), so its statements are counted through SQLAlchemy's
events and its CPU is this process's (`time.process_time()`): the streams are held
by another process (bench/pages_live.py's holder) and the heartbeats written by a
third, neither counted. The figure is CPU and statements per second of holding the
streams, less the same process's idle second (measured first, with no stream).
Either tree's code can be measured: the bench asks the app for nothing newer than
what both have (PYTHONPATH=/a/baseline/tree python -m bench.pages_streams ...).

    python -m bench.pages_streams [--db sqlite|postgresql] [--runs 10] [--streams 100]
        [--kind console|api] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, event, text

PG_ADMIN = os.environ.get("SYNCHUB_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


@contextmanager
def database(kind: str, home: Path) -> Iterator[str]:
    """The URL of a fresh database of `kind` with synchub's schema."""
    from synchub.store.db import make_engine
    from synchub.store.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{home / 'synchub.db'}"
    else:
        name = f"bench_streams_{os.getpid()}"
        admin = create_engine(f"{PG_ADMIN}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{PG_ADMIN}/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        if kind != "sqlite":
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(kind: str, runs: int, streams: int, stream_kind: str, seconds: float) -> dict[str, Any]:
    import uvicorn
    from cryptography.fernet import Fernet

    from bench import pages_live
    from synchub.api.app import create_app
    from synchub.config import Settings
    from synchub.services import Services
    from synchub.services.jobs.fields import JobFields

    with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
        settings = Settings(
            home=Path(tmp) / "home", database_url=url, secret_key=Fernet.generate_key().decode()
        )
        svc = Services(settings)
        token, _ = svc.tokens.create("bench", "admin")
        job_ids = []
        for i in range(runs):
            params = {"source": f"{tmp}/src", "destination": f"{tmp}/dst-{i:03d}"}
            job_ids.append(svc.jobs.add(f"j{i:03d}", JobFields(params=params, manual=True)).id)
        run_ids = pages_live.start_runs(url, job_ids, runs)
        port = free_port()
        config = uvicorn.Config(
            create_app(svc=svc), host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
        server = uvicorn.Server(config)
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.01)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, trust_env=False) as client:
            form = client.get("/login")
            csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            client.post("/login", data={"token": token, "csrf": csrf})
            cookies = dict(client.cookies)
        sent: list[int] = [0]

        def count(*_args: object) -> None:
            sent[0] += 1

        event.listen(svc.db, "before_cursor_execute", count)
        beater = subprocess.Popen(
            [sys.executable, "-m", "bench.pages_streams", "beat", url, json.dumps(run_ids)],
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            idle = window(sent, seconds)
            held = hold(base, cookies, token, run_ids, streams, stream_kind, sent, seconds)
        finally:
            beater.terminate()
            beater.wait(30)
            server.should_exit = True
        svc.close()
    per_s = {
        "cpu_ms": (held["cpu_s"] - idle["cpu_s"]) * 1000 / seconds,
        "statements": (held["statements"] - idle["statements"]) / seconds,
    }
    return {"db": kind, "runs": runs, "streams": streams, "kind": stream_kind,
            "idle": idle, "held": held, "per_s": per_s}  # fmt: skip


def window(sent: list[int], seconds: float) -> dict[str, float]:
    """This process's CPU seconds and statements over `seconds`."""
    cpu, n = time.process_time(), sent[0]
    time.sleep(seconds)
    return {"cpu_s": time.process_time() - cpu, "statements": sent[0] - n}


def hold(
    base: str,
    cookies: dict[str, str],
    token: str,
    run_ids: list[int],
    streams: int,
    stream_kind: str,
    sent: list[int],
    seconds: float,
) -> dict[str, Any]:
    """The window's figures with the streams open (past their first event)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        followed = [run_ids[i % len(run_ids)] for i in range(streams)]
        ready, stop, out = work / "ready", work / "stop", work / "out.json"
        spec = {"url": base, "cookies": cookies, "run_ids": followed, "ready": str(ready),
                "stop": str(stop), "kind": stream_kind, "token": token}  # fmt: skip
        (work / "spec.json").write_text(json.dumps(spec))
        holder = subprocess.Popen(
            [sys.executable, "-m", "bench.pages_live", "hold", str(work / "spec.json"), str(out)],
            cwd=Path(__file__).resolve().parent.parent,
        )
        try:
            while not ready.exists():
                if holder.poll() is not None:
                    raise RuntimeError("the stream holder stopped")
                time.sleep(0.1)
            figures: dict[str, Any] = window(sent, seconds)
            stop.touch()
            holder.wait(60)
        finally:
            if holder.poll() is None:
                holder.kill()
        figures["streams"] = json.loads(out.read_text())
    return figures


def beat(url: str, run_ids: list[int]) -> None:
    from bench import pages_live

    with pages_live.Beater(url, run_ids):
        while True:
            time.sleep(3600)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "beat":
        beat(sys.argv[2], json.loads(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.pages_streams")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--kind", choices=["console", "api"], default="console")
    parser.add_argument("--seconds", type=float, default=10.0)
    a = parser.parse_args()
    result = measure(a.db, a.runs, a.streams, a.kind, a.seconds)
    s = result["held"]["streams"]
    print(json.dumps(result))
    print(
        f"{a.db} {a.kind}: {a.streams} streams of {a.runs} runs: "
        f"{result['per_s']['cpu_ms']:.0f} ms CPU and {result['per_s']['statements']:.0f} "
        f"statements per second; {s['progress_events']} progress events "
        f"({s['per_stream_min']}-{s['per_stream_max']} a run), {s['errors']} errors"
    )


if __name__ == "__main__":
    main()
