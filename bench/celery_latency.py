"""Fire latency in `python -m bench celery`: no-op jobs every second through synchub's
scheduler and worker, and bare Celery given a perfectly punctual beat."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bench import bare_celery
from bench.celery_cluster import Cluster, CpuMeter, Proc, bare_app, log_time
from bench.common import summarize
from bench.lateness import RUN_FIELDS, delay_ms, trend
from synchub.core.clock import FakeClock
from synchub.core.runs import Trigger
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store.db import reading
from synchub.store.tables import RunRow

if TYPE_CHECKING:
    from bench.celery_bench import Params

#: "[2026-11-23 15:33:30,635: INFO/MainProcess] Task synchub.run[42] received"
RECEIVED = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): [^\]]*\] Task synchub\.run\[(\d+)\] received", re.M
)


def received_at(proc: Proc) -> dict[int, str]:
    """When the worker's main process received each run's message (its log, 1 ms)."""
    return {
        int(run_id): datetime.fromtimestamp(log_time(stamp), UTC).isoformat()
        for stamp, run_id in RECEIVED.findall(proc.output())
    }


SECOND = timedelta(seconds=1)


def latency(c: Cluster, p: Params, jobs: int, prefix: str) -> dict[str, Any]:
    """`jobs` no-op jobs every 1 s on one whole-second grid, for `latency_s` seconds;
    disabled again at the end."""
    lead = 4  # seconds from defining the jobs to the anchor: the scheduler polls every 1 s
    anchor = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead + 1)
    names = [f"{prefix}-{i:02d}" for i in range(jobs)]
    with c.services(clock=FakeClock(anchor)) as svc:
        for name in names:
            svc.jobs.add(
                name,
                JobFields(kind="noop", params={}, every="1s", retries=0, queue=c.queue_synchub),
            )
    if datetime.now(UTC) >= anchor:
        raise RuntimeError("defining the latency jobs took longer than expected")
    end = anchor + timedelta(seconds=p.latency_s)
    time.sleep(max(0.0, (anchor - datetime.now(UTC)).total_seconds()))
    meter = CpuMeter(c, {k: c.procs[k] for k in ("scheduler", "synchub")})
    time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
    cpu = meter.used()
    time.sleep(0.5)  # the fire at `end` happens before the jobs are disabled
    with c.services() as svc:
        for name in names:
            svc.jobs.set_enabled(name, False)
    time.sleep(2.0)  # the last fires' runs end
    with c.services() as svc:
        runs = scheduled_runs(svc, anchor, end)
    received = received_at(c.procs["synchub"])
    for r in runs:
        r["received_at"] = received.get(r["id"])
    ran = [r for r in runs if r["started_at"] is not None]
    stages = (("fired", "created_at"), ("queued", "queued_at"),
              ("received by the worker (its log)", "received_at"), ("started", "started_at"),
              ("finished", "finished_at"))  # fmt: skip
    delays = {
        label: summarize([delay_ms(r, key) for r in ran if r.get(key) is not None])
        for label, key in stages
    }
    by_fire: dict[str, list[float]] = {}
    for r in ran:
        by_fire.setdefault(r["scheduled_for"], []).append(delay_ms(r, "started_at"))
    if jobs > 1:
        delays["first started of a fire time"] = summarize([min(v) for v in by_fire.values()])
        delays["last started of a fire time"] = summarize([max(v) for v in by_fire.values()])
    return {
        "jobs": jobs,
        "anchor": anchor.isoformat(),
        "expected_fires": jobs * p.latency_s,
        "runs": len(runs),
        "distinct_fires": len({(r["job"], r["scheduled_for"]) for r in runs}),
        "off_grid": sum(
            (datetime.fromisoformat(r["scheduled_for"]) - anchor) % SECOND != timedelta(0)
            for r in runs
        ),
        "states": dict(Counter(r["state"] for r in runs)),
        "delays_ms": delays,
        "trend": trend(runs, anchor),
        "cpu_s": cpu,
        "samples_ms": [round(delay_ms(r, "started_at"), 3) for r in ran],
    }


def bare_latency(c: Cluster, p: Params, jobs: int, events: bool = False) -> dict[str, Any]:
    """Bare Celery's counterpart of `latency`: at every whole second for `latency_s`
    seconds, this process publishes `jobs` tasks (a perfectly punctual beat); each
    task returns the time it started. Lateness = start - the whole second."""
    worker = c.procs["bare + events" if events else "bare"]
    app = bare_app(c, events)
    queue = c.queue_bare(events)
    prefix = f"stamp-{c.tag}-{uuid.uuid4().hex[:6]}"
    stamped = re.compile(
        rf"Task bench\.stamp\[{prefix}-(\d+)-(\d+)\] succeeded in \S+: ([0-9.]+)$", re.M
    )
    anchor = int(time.time()) + 2
    published: list[float] = []
    for k in range(1, p.latency_s + 1):
        fire = anchor + k
        time.sleep(max(0.0, fire - time.time()))
        for j in range(jobs):
            app.send_task(bare_celery.STAMP, args=[fire], task_id=f"{prefix}-{k}-{j}",
                          queue=queue)  # fmt: skip
        published.append(1000 * (time.time() - fire))
    deadline = time.monotonic() + 10.0
    found: list[tuple[str, str, str]] = []
    while time.monotonic() < deadline:
        found = stamped.findall(worker.output())
        if len(found) >= jobs * p.latency_s:
            break
        time.sleep(0.1)
    late = [1000 * (float(ts) - (anchor + int(sec))) for sec, _j, ts in found]
    by_fire: dict[str, list[float]] = {}
    for (sec, _j, _ts), ms in zip(found, late, strict=True):
        by_fire.setdefault(sec, []).append(ms)
    delays = {
        "published (all of a fire time)": summarize(published),
        "started": summarize(late),
    }
    if jobs > 1:
        delays["first started of a fire time"] = summarize([min(v) for v in by_fire.values()])
        delays["last started of a fire time"] = summarize([max(v) for v in by_fire.values()])
    return {
        "jobs": jobs,
        "expected_fires": jobs * p.latency_s,
        "runs": len(found),
        "delays_ms": delays,
        "samples_ms": [round(x, 3) for x in late],
    }


def scheduled_runs(svc: Services, anchor: datetime, end: datetime) -> list[dict[str, Any]]:
    """Scheduled runs for fire times in (anchor, end], as `bench.lateness.window` gives
    them (its `all_runs` pages through the API's service, 1,000 runs a page at most)."""
    columns = {k: getattr(RunRow, "job_name" if k == "job" else k) for k in RUN_FIELDS}
    with reading(svc.sessions) as session:
        rows = session.execute(
            select(*columns.values())
            .where(
                RunRow.trigger == Trigger.SCHEDULE.value,
                RunRow.scheduled_for > anchor,
                RunRow.scheduled_for <= end,
            )
            .order_by(RunRow.id)
        ).all()
    return [
        {
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in zip(columns, row, strict=True)
        }
        for row in rows
    ]
