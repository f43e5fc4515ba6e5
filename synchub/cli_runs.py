"""`synchub job run`: hand a run to the server, or run it here when none is up."""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from synchub.core.runs import RunState, Trigger
from synchub.execution.runner import StopReason
from synchub.node import make_runner, process_name
from synchub.scheduler.loop import LEASE
from synchub.services import Services
from synchub.store import leases
from synchub.store import runs as run_store
from synchub.store.db import transaction

#: How often `job run --wait` reads a run it executes itself (see `_watch`).
LOCAL_POLL_S = 1.0
LEVEL_STYLE = {"error": "red", "warning": "yellow", "notice": "cyan", "info": "", "debug": "dim"}


def print_line(out: Console, line: dict[str, Any]) -> None:
    style = LEVEL_STYLE.get(line["level"], "")
    out.print(
        f"{line['at']} {line['level'].upper():<7} {line['message']}", style=style, markup=False
    )


def server_running(svc: Services) -> bool:
    """True when some scheduler holds a live lease on this database."""
    with transaction(svc.sessions) as session:
        lease = leases.current(session, LEASE)
    return lease is not None and lease.expires_at > svc.clock.now()


def run_now(
    svc: Services,
    job: str,
    *,
    wait: bool,
    out: Console,
    dry_run: bool = False,
    allow_deletes: bool = False,
    resync: bool = False,
) -> int:
    """Create a run of `job`; with `wait`, follow it to its end. Returns the exit code."""
    run_id = svc.runs.request(
        job, Trigger.MANUAL, dry_run=dry_run, allow_deletes=allow_deletes, resync=resync
    )
    here = not server_running(svc)
    if not wait:
        where = (
            "the server will start it"
            if not here
            else "no server is running: it starts when `synchub serve` does"
        )
        kind = "dry run" if dry_run else "run"
        out.print(f"queued {kind} [bold]{run_id}[/] of {job}; {where}")
        return 0
    worker: threading.Thread | None = None
    runner = None
    if here:
        runner = make_runner(svc, process_name())
        with transaction(svc.sessions) as session:
            run_store.move(
                session,
                run_id,
                RunState.QUEUED,
                expected=[RunState.PENDING],
                queued_at=svc.clock.now(),
            )
        worker = threading.Thread(target=runner.execute, args=(run_id,), daemon=True)
        worker.start()
    out.print(
        f"run [bold]{run_id}[/] of {job} "
        + ("running here (no server is up)" if here else "handed to the server")
    )
    try:
        view = _watch(svc, run_id, out, worker)
    except KeyboardInterrupt:
        if runner is not None:
            runner.stop_all(StopReason.CANCEL)
        else:
            svc.runs.cancel(run_id)
        out.print("cancelling …")
        view = _watch(svc, run_id, out, worker)
    if worker is not None:
        worker.join()
        view = svc.runs.show(run_id)
    return _report(view, out)


def _watch(
    svc: Services, run_id: int, out: Console, worker: threading.Thread | None
) -> dict[str, Any]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task("waiting", total=None)
        while True:
            view = svc.runs.show(run_id)
            if view["finished_at"] is not None:
                return view
            p = view.get("progress") or {}
            total = p.get("total_bytes") or None
            label = view["state"] + (" (scanning)" if p.get("scanning") else "")
            bar.update(
                task,
                description=label,
                completed=p.get("bytes", 0),
                total=None if p.get("scanning") else total,
            )
            if worker is not None:
                # Returns as soon as the run executed here ends. Its progress reaches
                # the database once a second: reading it more often only took CPU
                # from the run (rich redraws the bar meanwhile).
                worker.join(LOCAL_POLL_S)
            else:
                time.sleep(0.25)


def _report(view: dict[str, Any], out: Console) -> int:
    s = view["stats"]
    if view["dry_run"]:
        counts = view.get("files_summary") or {}
        would = ", ".join(
            f"{counts.get('would_' + a, 0)} to {a}" for a in ("copy", "replace", "delete")
        )
        out.print(
            f"dry run {view['id']} [bold]{view['state']}[/]: nothing changed; a real run "
            f"would have {would} (runs show {view['id']} --files)"
        )
    else:
        out.print(
            f"run {view['id']} [bold]{view['state']}[/]: {s['files']} file(s), "
            f"{s['bytes']} bytes, {s['deletes']} deleted, {s['errors']} error(s) "
            f"in {s['elapsed_s']:.1f}s"
        )
    if view["error"]:
        out.print(f"error: {view['error']}", style="red", markup=False)
    return 0 if view["state"] == RunState.SUCCEEDED.value else 1
