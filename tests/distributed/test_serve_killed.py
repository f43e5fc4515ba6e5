"""Chaos: `synchub serve`, the one-process default, killed with -9 at a random instant
and started again, on SQLite and on PostgreSQL, while a job fires every second, runs
start and end, retries are created and a client writes through the API.

After each restart the chaos test's promises hold (db_chaos.DbChaos.check): every run
terminal, none executed twice, none lost, `queue` jobs never doubled, no child
outliving its run, and no fire time lost: each second of the ticking job has its run,
or a missed fire recorded by its misfire policy (`once`, with a 1-s grace).

SYNCHUB_CHAOS_TRIALS sets the trials per database (default: a short version for CI);
SYNCHUB_CHAOS_SEED replays a plan; SYNCHUB_CHAOS_REPORT appends the summaries.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from synchub.store.db import make_engine
from synchub.store.migrate import upgrade
from tests.distributed.db_chaos import (
    SEED,
    TRIALS,
    ApiWriter,
    DbChaos,
    Server,
    Trial,
    log_problems,
    report,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chaos")]

SHORT = 3  #: trials per database in CI


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")  # the shared server: never restarted
        return url
    url = f"sqlite:///{tmp_path / 'synchub.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def chaos(tmp_path: Path, database: str) -> Iterator[DbChaos]:
    harness = DbChaos(tmp_path, database, database, SEED)
    yield harness
    harness.close()


def plan(chaos: DbChaos, number: int) -> Trial:
    rng = chaos.rng
    jobs = [rng.choice(["tiny", "short", "long", "parallel"]) for _ in range(rng.randint(2, 3))]
    return Trial(
        number,
        "kill",
        {"jobs": jobs, "kill_after": rng.uniform(0.05, 3.0), "restart_after": rng.uniform(0, 1.0)},
    )


@pytest.mark.timeout(120 + 60 * (TRIALS or SHORT))
def test_serve_killed_anywhere_loses_nothing(chaos: DbChaos, database: str) -> None:
    name = "sqlite" if database.startswith("sqlite") else "postgresql"
    replay = (
        f"SYNCHUB_CHAOS_SEED={SEED} SYNCHUB_CHAOS_TRIALS={TRIALS or SHORT} .venv/bin/"
        f"python -m pytest -q -p no:cacheprovider tests/distributed/test_serve_killed.py "
        f"-k {name}"
    )
    print(f"serve killed on {name}: seed {SEED}; replay: {replay}", flush=True)
    chaos.add_jobs()
    token, _ = chaos.svc.tokens.create("chaos", "admin")
    writer = ApiWriter(token, ["tiny", "short", "parallel"], chaos.rng)
    servers = [Server(chaos.env, chaos.tmp / "serve-0.log").wait_ready()]
    chaos.logs = [servers[0].log]
    trials = [plan(chaos, i) for i in range(TRIALS or SHORT)]
    began, outcome, current = time.monotonic(), "passed", None
    try:
        for current in trials:
            started = time.monotonic()
            chaos.request(current.plan["jobs"])
            writer.server = servers[-1]
            time.sleep(current.plan["kill_after"])
            writer.server = None
            servers[-1].kill()
            chaos.counts["servers_killed"] += 1
            time.sleep(current.plan["restart_after"])
            servers.append(Server(chaos.env, chaos.tmp / f"serve-{len(servers)}.log"))
            chaos.logs.append(servers[-1].log)
            servers[-1].wait_ready()
            chaos.check(chaos.settle())
            # It should start again cleanly: no traceback after a kill.
            tracebacks, _ = log_problems(servers[-1].log.read_text(errors="replace"))
            assert tracebacks == 0, servers[-1].log.read_text(errors="replace")[-4000:]
            current.seconds, current.result = round(time.monotonic() - started, 2), "ok"
            print(f"trial {current.number}: {current.seconds} s, {current.plan}", flush=True)
    except (AssertionError, pytest.fail.Exception) as exc:
        outcome = "failed"
        assert current is not None
        current.result = f"failed: {exc}"
        log = servers[-1].log.read_text(errors="replace").splitlines()[-30:]
        pytest.fail(
            f"serve killed on {name} failed in trial {current.number} (plan "
            f"{current.plan}) with seed {SEED}: {exc}\nreplay: {replay}\n" + "\n".join(log)
        )
    finally:
        writer.close()
        servers[-1].stop()
        summary = {
            "test": f"serve_killed_{name}",
            "seed": SEED,
            "trials_planned": len(trials),
            "trials_passed": sum(t.result == "ok" for t in trials),
            "wall_s": round(time.monotonic() - began, 1),
            "result": outcome if all(t.result != "not run" for t in trials) else "interrupted",
            "api_writes": dict(writer.sent),
            **chaos.tally(),
        }
        report(f"serve_killed_{name}", summary, trials)
