"""`synchub task`: the files watched folders must transfer."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from synchub.cli import tables
from synchub.cli.shared import JsonOpt, emit, out, services
from synchub.cli.typer_app import typer_app
from synchub.core.tasks import TaskState

if TYPE_CHECKING:
    from synchub.services.tasks import TaskView

task_app = typer_app(
    help="File tasks: each file a watched folder must transfer.",
)


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
    with services() as svc:
        views, total = svc.tasks.page(job=job, state=state, limit=limit)
        now = svc.clock.now()
    if as_json:
        emit([v.as_dict() for v in views])  # an array, as every list prints
        return
    layout = tables.stdout_layout(now)
    tables.print_table(TASK_COLUMNS, [_task_row(v, layout) for v in views], layout)
    if total > len(views):
        # On stderr: a script reading the rows reads rows only.
        sys.stderr.write(f"{len(views)} of {total}; --limit shows more\n")


TASK_COLUMNS = (
    tables.Column("id"),
    tables.Column("job", tables.Fit.END),
    tables.Column("state"),
    tables.Column("file", tables.Fit.MIDDLE, least=16),
    tables.Column("size"),
    tables.Column("done"),
    tables.Column("run"),
    tables.Column("error", tables.Fit.END, least=12),
)


def _task_row(v: TaskView, layout: tables.Layout) -> list[str]:
    return [
        str(v.id),
        v.job,
        v.state.value,
        v.path,
        layout.size(v.size),
        "" if v.percent is None else f"{v.percent}%",
        "" if v.run_id is None else str(v.run_id),
        v.error or "",
    ]


@task_app.command("retry")
def task_retry(task: int) -> None:
    """Send one file again, alone (rclone copyto); refused while it is queued or
    being transferred."""
    with services() as svc:
        view = svc.tasks.retry(task)
    out.print(f"task {task} ({view.path}) queued: run [bold]{view.run_id}[/] sends it")


@task_app.command("remove")
def task_remove(task: int) -> None:
    """Forget a task (the file stays where it is)."""
    with services() as svc:
        svc.tasks.remove(task)
    out.print(f"removed task {task}")
