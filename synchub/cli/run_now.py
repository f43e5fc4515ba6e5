"""`synchub job run`: hand a run to the server, or run it here when none is up."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from synchub.cli.run_show import duration, size
from synchub.core.runs import RunState, SkipReason, Trigger
from synchub.processes.runners import make_runner, process_name
from synchub.services import Services

if TYPE_CHECKING:
    from synchub.services.run_views import RunView

#: How often `job run --wait` reads a run it executes itself (see `_watch`).
LOCAL_POLL_S = 1.0


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
    """Create a run of `job`; with `wait`, follow it, and its retries, to the end.
    Returns the exit code."""
    run_id = svc.runs.request(
        job, Trigger.MANUAL, dry_run=dry_run, allow_deletes=allow_deletes, resync=resync
    )
    view = svc.runs.show(run_id)
    if view.state is RunState.SKIPPED:
        return _report(svc, view, out)
    if not wait:
        where = (
            "the server will start it"
            if svc.runs.scheduler_alive()
            else "no server is running: it starts when `synchub serve` does"
        )
        kind = "dry run" if dry_run else "run"
        out.print(f"queued {kind} [bold]{run_id}[/] of {job}; {where}")
        return 0
    while True:
        code, view = _attempt(svc, run_id, out)
        retry = svc.runs.retried_by(run_id) if code == 1 else None
        if retry is None:
            return code
        run_id = retry
        if not _wait_for_retry(svc, svc.runs.show(run_id), out):
            return code


def _attempt(svc: Services, run_id: int, out: Console) -> tuple[int, RunView]:
    """Run or follow one attempt to its end: (exit code, its last view). Exit 130
    when the user stopped waiting for a run the server goes on with."""
    job = svc.runs.show(run_id).job
    worker = _start_here(svc, run_id) if not svc.runs.scheduler_alive() else None
    if worker is not None:
        out.print(
            f"run [bold]{run_id}[/] of {job} running here (no server is up); Ctrl-C cancels it"
        )
    else:
        out.print(
            f"run [bold]{run_id}[/] of {job} handed to the server; "
            "Ctrl-C stops waiting (the run goes on)"
        )
    try:
        view = _watch(svc, run_id, out, worker)
    except KeyboardInterrupt:
        if worker is None:
            out.print(
                f"stopped waiting; run {run_id} goes on: `synchub runs logs {run_id} -f` "
                f"follows it, `synchub runs cancel {run_id}` stops it",
                markup=False,
            )
            return 130, svc.runs.show(run_id)
        svc.runs.cancel(run_id)
        out.print(f"cancelling run {run_id} …", markup=False)
        view = _watch(svc, run_id, out, worker)
    if worker is not None:
        worker.join()
        view = svc.runs.show(run_id)
    return _report(svc, view, out), view


def _start_here(svc: Services, run_id: int) -> threading.Thread | None:
    """Run `run_id` in this process, or None when another process took it first."""
    if not svc.runs.take_pending(run_id):
        return None
    runner = make_runner(svc, process_name())
    worker = threading.Thread(target=runner.execute, args=(run_id,), daemon=True)
    worker.start()
    return worker


def _wait_for_retry(svc: Services, view: RunView, out: Console) -> bool:
    """Wait until the retry `view` is due (a server starts it itself). False when
    the user stopped waiting."""
    due = datetime.fromisoformat(view.not_before)
    wait_s = max(0.0, (due - svc.clock.now()).total_seconds())
    out.print(
        f"retry: run [bold]{view.id}[/] (attempt {view.attempt}) at "
        f"{due.astimezone():%H:%M:%S} (in {duration(wait_s)}); waiting for it "
        "(Ctrl-C stops waiting)"
    )
    try:
        while svc.clock.now() < due and not svc.runs.scheduler_alive():
            time.sleep(min(0.25, max(0.0, (due - svc.clock.now()).total_seconds())))
    except KeyboardInterrupt:
        out.print(
            f"stopped waiting; run {view.id} starts at {due.astimezone():%H:%M:%S} "
            "if a server is up (else when `synchub serve` starts), "
            f"`synchub runs cancel {view.id}` drops it",
            markup=False,
        )
        return False
    return True


def _watch(svc: Services, run_id: int, out: Console, worker: threading.Thread | None) -> RunView:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    # Drawn when the run's progress is read, not ten times a second by rich's own
    # thread: those redraws took CPU from the run that this process executes.
    with Progress(*columns, console=out, transient=True, auto_refresh=False) as bar:
        task = bar.add_task("waiting", total=None)
        while True:
            view = svc.runs.show(run_id)
            if view.ended:
                return view
            p = view.progress or {}
            total = p.get("total_bytes") or None
            label = view.state + (" (scanning)" if p.get("scanning") else "")
            bar.update(
                task,
                description=label,
                completed=p.get("bytes", 0),
                total=None if p.get("scanning") else total,
                refresh=True,
            )
            if worker is not None:
                # Returns as soon as the run executed here ends. Its progress reaches
                # the database once a second: reading it more often only took CPU
                # from the run.
                worker.join(LOCAL_POLL_S)
            else:
                time.sleep(0.25)


def _report(svc: Services, view: RunView, out: Console) -> int:
    """Say how the run ended, why, and what follows; the exit code."""
    s = view.stats
    if view.state is RunState.SKIPPED:
        out.print(f"run {view.id} of {view.job} [bold]skipped[/]: {_why_skipped(svc, view)}")
        return 1
    if view.dry_run:
        counts = view.files_summary or {}
        would = ", ".join(
            f"{counts.get('would_' + a, 0)} to {a}" for a in ("copy", "replace", "delete")
        )
        out.print(
            f"dry run {view.id} [bold]{view.state}[/]: nothing changed; a real run "
            f"would have {would} (runs show {view.id} --files)"
        )
    else:
        out.print(
            f"run {view.id} [bold]{view.state}[/]: {s.files} file(s), "
            f"{size(s.bytes)}, {s.deletes} deleted, {s.errors} error(s) "
            f"in {duration(s.elapsed_s)}"
        )
    if view.error:
        out.print(f"error: {view.error}", style="red", markup=False)
    if (view.next_step or "").startswith("not retried"):
        out.print(view.next_step, markup=False)  # a retry: the caller follows it
    return 0 if view.state is RunState.SUCCEEDED else 1


def _why_skipped(svc: Services, view: RunView) -> str:
    if view.reason != SkipReason.OVERLAP.value:
        return "its fire time was missed"
    busy = svc.runs.list(job=view.job, state=RunState.RUNNING.value, limit=1)
    which = f"run {busy[0].id} of it" if busy else "another run of it"
    return (
        f"{which} was running and the job's overlap policy is skip, so nothing was "
        f"started (`synchub job edit {view.job} --overlap queue` makes such runs wait)"
    )
