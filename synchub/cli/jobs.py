"""`synchub job`: what to sync, and when: add, edit, list, show, switch on and off,
mute, remove, and run now."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from synchub.cli import tables
from synchub.cli.hooks import After, Hook
from synchub.cli.job_options import (
    TZ_WITHOUT_CRON,
    AddOptions,
    Args,
    CheckAccess,
    Clear,
    Cron,
    Cwd,
    DeleteGuard,
    Dest,
    Disabled,
    EditMarker,
    EditOptions,
    EditTimeout,
    Envs,
    Every,
    Filters,
    KeepDeleted,
    KeepLogsOpt,
    KeepRunsOpt,
    Kind,
    LongAfter,
    Manual,
    Marker,
    MaxDepth,
    Misfire,
    Op,
    Options,
    Overlap,
    Params,
    Queue,
    RemoveOptions,
    Retries,
    RetryDelay,
    Source,
    StaleAfter,
    Tags,
    Timeout,
    Tz,
    Watch,
    WatchOrNot,
    WindowOpt,
    cleared_lists,
    job_fields,
)
from synchub.cli.job_output import (
    JOB_COLUMNS,
    fire_lines,
    guarded_at,
    job_row,
    print_job,
    warn_unwatched,
)
from synchub.cli.shared import JsonOpt, emit, errors, importing, out, services
from synchub.cli.typer_app import typer_app
from synchub.core.errors import InvalidInput

job_app = typer_app(help="Jobs: what to sync, and when.")


@job_app.command("add")
def job_add(
    name: str,
    source: Source = None,
    dest: Dest = None,
    op: Op = None,
    cron: Cron = None,
    tz: Tz = None,
    every: Every = None,
    filters: Filters = None,
    options: Options = None,
    retries: Retries = None,
    retry_delay: RetryDelay = None,
    timeout: Timeout = None,
    overlap: Overlap = None,
    queue: Queue = None,
    misfire: Misfire = None,
    disabled: Disabled = False,
    kind: Kind = None,
    args: Args = None,
    envs: Envs = None,
    cwd: Cwd = None,
    params: Params = None,
    tags: Tags = None,
    watch: Watch = False,
    max_depth: MaxDepth = None,
    delete_guard: DeleteGuard = None,
    require_marker: Marker = None,
    check_access: CheckAccess = None,
    keep_deleted: KeepDeleted = None,
    stale_after: StaleAfter = None,
    long_after: LongAfter = None,
    hooks: Hook = None,
    after: After = None,
    keep_runs: KeepRunsOpt = None,
    keep_logs: KeepLogsOpt = None,
    windows: WindowOpt = None,
) -> None:
    """Define a job. Without --cron or --every it runs only when asked (or, with
    --watch, when its folder changes and at each rescan). An rclone job's op is
    sync unless --op says otherwise: files missing from the source are deleted at
    the destination, guarded by --delete-guard (default 50%)."""
    flags = dict(locals())  # every option by its name, for job_fields
    with errors():
        if tz is not None and cron is None:
            raise InvalidInput(TZ_WITHOUT_CRON)
    with services() as svc:
        spec = job_fields(name, kind or "rclone", flags, enabled=not disabled)
        view = svc.jobs.add(name, spec)
        nxt = view.next_fire_at
        out.print(
            f"added job [bold]{name}[/]: {view.schedule.description}"
            + (f", next at {fire_lines(view, [nxt])[0]}" if nxt else "")
        )
        warn_unwatched(view)
        guard = view.delete_guard  # a sync job always has one
        if op is None and view.params.get("op") == "sync" and guard is not None:
            out.print(
                f"op sync (the default): files missing from the source are deleted at "
                f"{view.params['destination']}, {guarded_at(guard)}",
                markup=False,
            )
        if view.check_access:
            out.print(
                "bisync access check on: the first run puts RCLONE_TEST at both roots, and "
                "a run stops if it is then missing on one side (--no-check-access: off)",
                markup=False,
            )


@job_app.command("edit")
def job_edit(
    name: str,
    source: Source = None,
    dest: Dest = None,
    op: Op = None,
    cron: Cron = None,
    tz: Tz = None,
    every: Every = None,
    filters: Filters = None,
    options: EditOptions = None,
    add_options: AddOptions = None,
    remove_options: RemoveOptions = None,
    clear: Clear = None,
    retries: Retries = None,
    retry_delay: RetryDelay = None,
    timeout: EditTimeout = None,
    overlap: Overlap = None,
    queue: Queue = None,
    misfire: Misfire = None,
    manual: Manual = False,
    kind: Kind = None,
    args: Args = None,
    envs: Envs = None,
    cwd: Cwd = None,
    params: Params = None,
    tags: Tags = None,
    watch: WatchOrNot = None,
    max_depth: MaxDepth = None,
    delete_guard: DeleteGuard = None,
    require_marker: EditMarker = None,
    check_access: CheckAccess = None,
    keep_deleted: KeepDeleted = None,
    stale_after: StaleAfter = None,
    long_after: LongAfter = None,
    hooks: Hook = None,
    after: After = None,
    keep_runs: KeepRunsOpt = None,
    keep_logs: KeepLogsOpt = None,
    windows: WindowOpt = None,
) -> None:
    """Change a job; what is not given stays. A list given (--option, --filter,
    --tag, --arg, --hook, --after, --window) replaces the job's; --add-option and
    --remove-option change its options one by one, --clear empties a list. A new
    schedule counts from now."""
    flags = dict(locals())  # every option by its name, for job_fields
    with services() as svc:
        if manual and (cron or every):
            raise InvalidInput("Give --manual, or a new schedule, not both")
        if tz is not None and cron is None:
            if every or manual:
                raise InvalidInput(TZ_WITHOUT_CRON)
            if svc.jobs.show(name).schedule.kind != "cron":
                raise InvalidInput(f"{TZ_WITHOUT_CRON}; job {name} has no cron schedule")
        cleared = cleared_lists(flags)
        job_kind = kind or svc.jobs.show(name).kind
        spec = job_fields(
            name,
            job_kind,
            flags,
            cleared,
            manual=manual,
            add_options=add_options,
            remove_options=remove_options,
        )
        edited = svc.jobs.change(name, spec)
        if not edited.changed:
            out.print(f"nothing to change: job [bold]{name}[/] is already so")
            return
        out.print(
            f"changed job [bold]{name}[/] ({', '.join(edited.changed)}): "
            f"{edited.view.schedule.description}"
        )
        warn_unwatched(edited.view)


@job_app.command("list")
def job_list(as_json: JsonOpt = False) -> None:
    """List jobs: what each does, when it fires next, how its last run went."""
    from synchub.cli import local_socket  # http.client: not for `--help`

    jobs = local_socket.fetch_all("/api/v1/jobs", {"limit": local_socket.MOST})
    if jobs is None:
        jobs = _read_jobs()
    if as_json:
        emit(jobs)
        return
    layout = tables.stdout_layout(tables.now())
    tables.print_table(JOB_COLUMNS, [job_row(job, layout) for job in jobs], layout)


def _read_jobs() -> list[dict[str, Any]]:
    """Every job as GET /api/v1/jobs shows it, read from the database."""
    with importing():
        from synchub.api.schemas.jobs import JobPublic

    with services() as svc:
        views = svc.jobs.list()
        last_runs = svc.overview.last_runs()
    return [JobPublic.of(v, last_runs.get(v.id)).model_dump(mode="json") for v in views]


@job_app.command("show")
def job_show(name: str, as_json: JsonOpt = False) -> None:
    """Show a job and its next fire times."""
    with services() as svc:
        view = svc.jobs.show(name)
        fires = [t.isoformat() for t in svc.jobs.next(name, 5)]
        if as_json:
            emit(view.as_dict() | {"next_fires": fires})
            return
        print_job(view, fires)


@job_app.command("enable")
def job_enable(name: str) -> None:
    """Switch a job on; its schedule counts from now."""
    with services() as svc:
        view = svc.jobs.set_enabled(name, True)
        out.print(f"enabled [bold]{name}[/]; next fire {view.next_fire_at or '-'}")


@job_app.command("disable")
def job_disable(name: str) -> None:
    """Switch a job off; running runs go on."""
    with services() as svc:
        svc.jobs.set_enabled(name, False)
        out.print(f"disabled [bold]{name}[/]")


@job_app.command("mute")
def job_mute(
    name: str,
    duration: Annotated[str, typer.Argument(help="How long, e.g. 30m, 2h, 1d.")],
) -> None:
    """Send no alert for a job for a while (runs go on); a new mute replaces the old."""
    with services() as svc:
        view = svc.jobs.mute(name, duration)
    out.print(f"muted alerts of [bold]{name}[/] until {view.muted_until}")


@job_app.command("unmute")
def job_unmute(name: str) -> None:
    """Send a job's alerts again."""
    with services() as svc:
        svc.jobs.unmute(name)
    out.print(f"alerts of [bold]{name}[/] are on")


@job_app.command("remove")
def job_remove(
    name: str,
    keep_history: Annotated[
        bool,
        typer.Option("--keep-history", help="Keep its runs, logs and change reports, to read."),
    ] = False,
) -> None:
    """Remove a job and its history. Its waiting runs are cancelled; refused while
    one of its runs is running."""
    with services() as svc:
        outcome = svc.jobs.remove(name, keep_history=keep_history)
        if keep_history:
            out.print(f"removed job [bold]{name}[/]; kept its {outcome.runs_kept} run(s)")
        else:
            out.print(f"removed job [bold]{name}[/] and its {outcome.runs_deleted} run(s)")
        if outcome.runs_cancelled:
            ids = ", ".join(str(i) for i in outcome.runs_cancelled)
            out.print(f"cancelled waiting run(s) {ids}")


@job_app.command("next")
def job_next(
    name: str,
    count: Annotated[int, typer.Option("-n", min=1, max=1000)] = 5,
    as_json: JsonOpt = False,
) -> None:
    """The job's next fire times."""
    with services() as svc:
        fires = [t.isoformat() for t in svc.jobs.next(name, count)]
        if as_json:
            emit(fires)
            return
        view = svc.jobs.show(name)
        for line in fire_lines(view, fires):
            out.print(line, markup=False)
        if not fires:
            enabled = view.enabled
            out.print("manual runs only" if enabled else "disabled: it fires nothing until enabled")


@job_app.command("run")
def job_run(
    name: str,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait with a progress bar; exit 1 unless it succeeds")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Change nothing; report what a real run would change"),
    ] = False,
    allow_deletes: Annotated[
        bool,
        typer.Option(
            "--allow-deletes",
            help="Let this one run pass the delete guard and the empty-source stop (audited)",
        ),
    ] = False,
) -> None:
    """Run a job now. With no server running, --wait runs it in this process."""
    from synchub.cli.run_now import run_now

    with services() as svc:
        code = run_now(
            svc, name, wait=wait, out=out.get(), dry_run=dry_run, allow_deletes=allow_deletes
        )
    raise typer.Exit(code)


@job_app.command("resync")
def job_resync(
    name: str,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait with a progress bar; exit 1 unless it succeeds")
    ] = False,
) -> None:
    """Run a bisync job once with rclone's --resync: rebuild its listings, merging
    both sides (files only on one side are copied to the other; nothing is deleted).
    Needed after bisync stops and asks for it, e.g. once its first path was empty."""
    from synchub.cli.run_now import run_now

    with services() as svc:
        code = run_now(svc, name, wait=wait, out=out.get(), resync=True)
    raise typer.Exit(code)
