"""`synchub runs`: what happened: list, show, logs, restore, cancel, retry, prune."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from synchub.cli import tables
from synchub.cli.run_show import print_line, run_lines
from synchub.cli.shared import JsonOpt, emit, importing, out, services
from synchub.cli.typer_app import typer_app

if TYPE_CHECKING:
    from synchub.services.run_views import FileChange, RunView

runs_app = typer_app(help="Runs: what happened.")


@runs_app.command("list")
def runs_list(
    job: Annotated[str | None, typer.Option("--job")] = None,
    state: Annotated[str | None, typer.Option("--state", help="e.g. failed or failed,lost")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List runs, newest first."""
    from synchub.cli import local_socket  # http.client: not for `--help`

    query = {"job": job, "state": state, "limit": limit}  # GET /api/v1/runs's parameters
    page = local_socket.fetch("/api/v1/runs", query)
    runs = page.get("data") if isinstance(page, dict) else None
    if not isinstance(runs, list):
        runs = _read_runs(job=job, state=state, limit=limit)
    if as_json:
        emit(runs)
        return
    layout = tables.stdout_layout(tables.now())
    tables.print_table(RUN_COLUMNS, [run_row(run, layout) for run in runs], layout)


def _read_runs(*, job: str | None, state: str | None, limit: int) -> list[dict[str, Any]]:
    """The runs GET /api/v1/runs shows for these parameters, read from the database."""
    with importing():
        from synchub.api.schemas.runs import RunPublic

    with services() as svc:
        views = svc.runs.list(job=job, state=state, limit=limit)
    return [RunPublic.of(v).model_dump(mode="json") for v in views]


RUN_COLUMNS = (
    tables.Column("id"),
    tables.Column("job", tables.Fit.END, least=6),
    tables.Column("state"),
    tables.Column("trigger"),
    tables.Column("started"),
    tables.Column("took"),
    tables.Column("files"),
    tables.Column("size"),
    tables.Column("error", tables.Fit.END, least=10, weight=3),
)


def run_row(run: dict[str, Any], layout: tables.Layout) -> list[str]:
    """`runs list`'s row of a run as the API shows it (RunPublic), whether the
    server's local socket or the database gave it."""
    stats, attempt = run["stats"], run["attempt"]
    return [
        str(run["id"]),
        run["job"] + (" (deleted)" if run["job_deleted"] else ""),
        run["state"]
        + (f" #{attempt}" if attempt > 1 else "")
        + (" (dry run)" if run["dry_run"] else ""),
        run["trigger"],
        layout.when(run["started_at"] or run["scheduled_for"] or run["created_at"]),
        layout.span(stats["elapsed_s"]) if run["finished_at"] and run["started_at"] else "",
        str(stats["files"]),
        layout.size(stats["bytes"]),
        run["error"] or run["reason"] or "",
    ]


@runs_app.command("show")
def runs_show(
    run: int,
    as_json: JsonOpt = False,
    files: Annotated[
        bool, typer.Option("--files", help="Include the per-file change report")
    ] = False,
) -> None:
    """Show one run: state, outcome, stats; --files adds what it changed."""
    with services() as svc:
        view = svc.runs.show(run)
        rows = svc.runs.files(run) if files else None
        if as_json:
            shown = view.as_dict()
            if rows is not None:
                shown["files"] = [row.as_dict() for row in rows]
            emit(shown)
            return
        for line in run_lines(view):
            out.print(line, markup=False)
        if rows is not None:
            print_files(view, rows)


def print_files(view: RunView, rows: list[FileChange]) -> None:
    """The change report; previews (dry runs, a stopped run's deletes) said as such."""
    if view.dry_run:
        out.print("dry run: nothing was changed; a real run would:", markup=False)
    elif any(f.action.startswith("would_") for f in rows):
        out.print("stopped before any change; it would have:", markup=False)
    for f in rows:
        action = f.action.replace("_", " ")
        out.print(
            f"  {action:<13} {f.size if f.size is not None else '':>12} "
            f"{f.path}"
            + (f"  ({f.error})" if f.error else "")
            + (f"  -> kept at {f.kept_at}" if f.kept_at else ""),
            markup=False,
        )
    if not rows:
        out.print("  no file changes", markup=False)


@runs_app.command("logs")
def runs_logs(run: int, follow: Annotated[bool, typer.Option("--follow", "-f")] = False) -> None:
    """Print a run's log; --follow waits for new lines until it ends."""
    from synchub.services.run_views import RunEnded

    with services() as svc:
        if not follow:
            for line in svc.runs.logs(run):
                print_line(out.get(), line)
            return
        for item in svc.runs.follow(run):
            if isinstance(item, RunEnded):
                out.print(f"run {run} ended: [bold]{item.run.state}[/]")
            else:
                print_line(out.get(), item)


@runs_app.command("restore")
def runs_restore(
    run: int,
    path: Annotated[
        str | None,
        typer.Option("--path", help="Only this file or folder (relative to the destination)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy back what RUN kept: the files it deleted or overwrote, for a job with
    --keep-deleted. What the restore overwrites is kept in turn."""
    with services() as svc:
        done = svc.runs.restore(run, path)
        if as_json:
            emit(done.as_dict())
        else:
            out.print(f"restored {len(done.restored)} file(s) from {done.kept_in} "
                      f"to {done.destination}", markup=False)  # fmt: skip
            for name in done.restored:
                out.print(f"  {name}", markup=False)
            if done.unchanged:
                out.print(f"{len(done.unchanged)} file(s) already in place, as kept",
                          markup=False)  # fmt: skip
            out.print(f"what they replaced is kept in {done.kept_aside}", markup=False)
            for error in done.errors:
                out.print(f"  error: {error}", markup=False)
    if done.errors:
        raise typer.Exit(1)


@runs_app.command("cancel")
def runs_cancel(run: int) -> None:
    """Cancel a run: at once if it has not started, else its runner stops it."""
    with services() as svc:
        view = svc.runs.cancel(run)
        word = "cancel requested" if view.state == "running" else view.state
        out.print(f"run {run}: {word}")


@runs_app.command("retry")
def runs_retry(run: int) -> None:
    """Start a new attempt of an ended run."""
    with services() as svc:
        new_id = svc.runs.retry(run)
        out.print(f"queued run [bold]{new_id}[/] (retry of {run})")


@runs_app.command("prune")
def runs_prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would go; delete nothing")
    ] = False,
    job: Annotated[
        str | None, typer.Option("--job", help="Only this job's runs (or a deleted job's)")
    ] = None,
) -> None:
    """Prune run history now, by the retention rules (the scheduler's leader also
    does it in the background): old runs with their logs and change reports, older
    logs of runs that stay, done file tasks. Each job keeps its last success and
    last failure, and runs that have not ended."""
    with services() as svc:
        pruned = svc.retention.prune_now(job=job, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    out.print(
        f"{verb} {pruned.runs} run(s), {pruned.log_lines} log line(s) and "
        f"{pruned.report_rows} change-report row(s); the logs of {pruned.logs_of_runs} "
        f"kept run(s); {pruned.tasks} done file task(s)",
        markup=False,
    )
