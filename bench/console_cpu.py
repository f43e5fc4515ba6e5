"""In-process CPU of each console page over a seeded SQLite database: the server's and
the client's threads (TestClient), which the machine's load barely changes, unlike
wall-clock times. Compare two trees on copies of one database:

    python -m bench.console_cpu seed /tmp/base.db 10000 200000   # with the older tree
    cp /tmp/base.db /tmp/new.db
    python -m bench.console_cpu upgrade /tmp/new.db              # with the newer tree
    PYTHONPATH=/tmp/base-tree python -m bench.console_cpu measure /tmp/base.db
    python -m bench.console_cpu measure /tmp/new.db

`upgrade` also works out the jobs' staleness bounds, which a seed written with plain
inserts leaves to it."""

from __future__ import annotations

import gc
import re
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import event, text

from bench.api_seed import seed
from synchub.config import Settings
from synchub.services import Services
from synchub.store.crypto import create_key
from synchub.store.db import make_engine, reading
from synchub.store.migrate import upgrade

PAGES = {
    "dashboard /": "/",
    "/jobs": "/jobs",
    "/jobs?state=failing": "/jobs?state=failing",
    "/jobs?state=stale": "/jobs?state=stale",
    "a job": "/jobs/{name}",
    "/runs": "/runs",
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def measure(db: Path, rounds: int) -> None:
    from fastapi.testclient import TestClient

    from synchub.api.app import create_app

    home = db.parent / f"{db.stem}-home"
    home.mkdir(exist_ok=True)
    if not (home / "secret.key").exists():
        create_key(home / "secret.key")
    settings = Settings(home=home, database_url=f"sqlite:///{db}", default_tz="UTC")
    svc = Services(settings, actor="bench")
    token, _view = svc.tokens.create(f"cpu-{time.time_ns()}", "admin")
    client = TestClient(create_app(svc=svc), base_url="http://127.0.0.1")
    found = CSRF.search(client.get("/login").text)
    assert found
    client.post("/login", data={"token": token, "csrf": found.group(1)})
    with reading(svc.sessions) as session:
        name = session.execute(text("SELECT name FROM jobs ORDER BY id LIMIT 1")).scalar()
    counted = [0]

    def count(*_args: object) -> None:
        counted[0] += 1

    for label, path in PAGES.items():
        url = path.format(name=name)
        assert client.get(url).status_code == 200, url  # caches filled
        cpu = []
        for _ in range(rounds):
            gc.collect()
            start = time.process_time()
            answer = client.get(url)
            cpu.append((time.process_time() - start) * 1000)
        counted[0] = 0
        event.listen(svc.db, "before_cursor_execute", count)
        client.get(url)
        event.remove(svc.db, "before_cursor_execute", count)
        print(
            f"{label:20} CPU ms median {statistics.median(cpu):6.1f}  min {min(cpu):6.1f}"
            f"  HTML KiB {len(answer.content) / 1024:6.1f}  SQL {counted[0]}"
        )
    svc.close()


def main() -> None:
    mode, db = sys.argv[1], Path(sys.argv[2])
    if mode == "seed":
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        seeded = seed(engine, int(sys.argv[3]), int(sys.argv[4]))
        print(f"seeded in {seeded.seconds:.0f} s: {seeded.states}")
    elif mode == "upgrade":
        wall, cpu = time.perf_counter(), time.process_time()
        upgrade(make_engine(f"sqlite:///{db}"))
        took = time.perf_counter() - wall, time.process_time() - cpu
        print(f"upgraded: {took[0]:.1f} s, CPU {took[1]:.1f} s")
    else:
        measure(db, int(sys.argv[3]) if len(sys.argv) > 3 else 5)


if __name__ == "__main__":
    main()
