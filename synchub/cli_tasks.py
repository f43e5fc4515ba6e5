"""`synchub task`: the files watched folders must transfer."""

from __future__ import annotations

from typing import Annotated

import typer

from synchub.core.tasks import TaskState

task_app = typer.Typer(
    no_args_is_help=True, help="File tasks: each file a watched folder must transfer."
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


@task_app.command("list")
def task_list(
    job: Annotated[str | None, typer.Option("--job", help="A watched job's name")] = None,
    state: Annotated[
        TaskState | None, typer.Option("--state", case_sensitive=False, show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List file tasks, newest first."""
    from synchub.cli import Rows, emit, ensure_schema, out, services

    with services() as svc:
        ensure_schema(svc)
        views, total = svc.tasks.page(job=job, state=state, limit=limit)
    if as_json:
        emit(views)  # an array, as every list prints
        return
    table = Rows("id", "job", "state", "file", "size", "done", "run", "error")
    for v in views:
        table.add_row(
            str(v["id"]),
            v["job"],
            v["state"],
            v["path"],
            "" if v["size"] is None else str(v["size"]),
            "" if v["percent"] is None else f"{v['percent']}%",
            "" if v["run_id"] is None else str(v["run_id"]),
            (v["error"] or "")[:60],
        )
    out.print(table)
    if total > len(views):
        out.print(f"{len(views)} of {total}; --limit shows more")


@task_app.command("retry")
def task_retry(task: int) -> None:
    """Send one file again, alone (rclone copyto); refused while it is queued or
    being transferred."""
    from synchub.cli import ensure_schema, out, services

    with services() as svc:
        ensure_schema(svc)
        view = svc.tasks.retry(task)
    out.print(f"task {task} ({view['path']}) queued: run [bold]{view['run_id']}[/] sends it")


@task_app.command("remove")
def task_remove(task: int) -> None:
    """Forget a task (the file stays where it is)."""
    from synchub.cli import ensure_schema, out, services

    with services() as svc:
        ensure_schema(svc)
        svc.tasks.remove(task)
    out.print(f"removed task {task}")
