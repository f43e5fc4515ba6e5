"""The `synchub` command: thin wrappers over the services, printed with rich."""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from synchub import cli_tables
from synchub.cli_alerts import alert_app
from synchub.cli_config_file import apply, export
from synchub.cli_console import LazyConsole
from synchub.cli_doctor import doctor
from synchub.cli_hooks import After, Hook, hook_lines, hooks_given
from synchub.cli_secrets import secrets_app
from synchub.cli_tasks import task_app
from synchub.cli_tokens import token_app
from synchub.cli_typer import typer_app
from synchub.core.errors import (
    Conflict,
    InvalidInput,
    NoSecretKey,
    NotFound,
    SchemaOutdated,
    SynchubError,
)
from synchub.core.text import check_text, check_tree

if TYPE_CHECKING:
    from pydantic import ValidationError

    from synchub.config import Explained, Settings
    from synchub.services import Services

app = typer_app(
    add_completion=False,
    pretty_exceptions_enable=False,
    help="synchub: schedule and run rclone sync and backup jobs.",
)
remote_app = typer_app(help="Remotes: where files live.")
job_app = typer_app(help="Jobs: what to sync, and when.")
runs_app = typer_app(help="Runs: what happened.")
db_app = typer_app(help="The database.")
config_app = typer_app(help="Settings.")
app.add_typer(remote_app, name="remote")
app.add_typer(job_app, name="job")
app.add_typer(runs_app, name="runs")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(token_app, name="token")
app.add_typer(task_app, name="task")
app.add_typer(secrets_app, name="secrets")
app.add_typer(alert_app, name="alert")
app.command("doctor")(doctor)
app.command("export")(export)
app.command("apply")(apply)


# Made on first use: `synchub --help` and parse errors import no rich.
out = LazyConsole(stderr=False)
err = LazyConsole(stderr=True)


#: Options whose values may span lines: a command job's argv items and env values,
#: the multi-line fields of the text rule (synchub/core/text.py).
MULTILINE_OPTIONS = frozenset({"--arg", "--env"})

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def fail(message: str, code: int) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


@contextmanager
def services() -> Iterator[Services]:
    """Services over the configured database, with synchub errors mapped to exit codes."""
    from pydantic import ValidationError

    from synchub.config import Settings
    from synchub.services import Services

    svc: Services | None = None
    try:
        settings = Settings()
        svc = Services(settings, actor="cli")
        yield svc
    except (InvalidInput, Conflict) as exc:
        fail(exc.message, 2)
    except NotFound as exc:
        fail(exc.message, 3)
    except SchemaOutdated as exc:
        fail(exc.message, 2)
    except SynchubError as exc:
        fail(exc.message, 1)
    except ValidationError as exc:  # settings that do not validate
        fail(settings_problem(exc), 2)
    except ValueError as exc:
        fail(str(exc).splitlines()[0], 2)
    except Exception as exc:
        from synchub.services.faults import database_fault

        told = database_fault(exc)  # a full disk, a lock, an outage: said, no traceback
        if told is None:
            raise
        fail(told, 1)
    finally:
        if svc is not None:
            svc.close()


def settings_problem(exc: ValidationError) -> str:
    """The first bad setting, named as the user sets it."""
    error = exc.errors()[0]
    field = "_".join(str(p) for p in error["loc"]).upper()
    where = f"SYNCHUB_{field}: " if field else ""
    return f"Bad setting {where}{error['msg'].removeprefix('Value error, ')}"


def emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def ensure_schema(svc: Services) -> None:
    from synchub.store.schema import check_schema

    check_schema(svc.db)


def seal_stored(svc: Services) -> None:
    """Seal secret values stored in plain text (RemoteService.seal_stored,
    JobService.seal_stored_env)."""
    sealed = svc.remotes.seal_stored()
    for name, keys in sealed.items():
        err.print(f"sealed the secret option(s) {', '.join(keys)} of remote {name}", markup=False)
    jobs = svc.jobs.seal_stored_env()
    for name in jobs:
        err.print(f"sealed the environment values of job {name}", markup=False)
    if sealed or jobs:
        err.print(
            "the plain values may linger in the database's free space until it is "
            "compacted: see docs/concepts.md, Remotes",
            markup=False,
        )


# -- set-up -------------------------------------------------------------------


@app.command()
def init() -> None:
    """Create the data directory (0700), the database and the secret key (0600), or
    tighten older ones. Safe to run again; refuses to make a new key while the
    database holds secrets sealed with one (restore it instead)."""
    from synchub.services.datadir import tighten_modes
    from synchub.store.crypto import create_key, read_key
    from synchub.store.files import private_dir
    from synchub.store.migrate import upgrade

    with services() as svc:
        settings = svc.settings
        private_dir(settings.home)
        upgrade(svc.db)
        if not settings.secret_key.get_secret_value() and read_key(settings.key_path) is None:
            if svc.any_sealed():
                raise NoSecretKey(
                    f"The database holds secrets sealed with a key that is not at "
                    f"{settings.key_path}: restore that file from a backup (mode 0600) or "
                    "set SYNCHUB_SECRET_KEY. A new key would not open them: if the key is "
                    "lost for good, `synchub secrets forget` drops them, then run "
                    "`synchub init` again and enter them again"
                )
            create_key(settings.key_path)
        seal_stored(svc)
        for line in tighten_modes(settings):
            err.print(line, markup=False)
        if (problem := svc.secrets.problem()) is not None:
            err.print(f"warning: {problem}", markup=False)
        out.print(f"synchub is ready in [bold]{settings.home}[/]")
        if (secret := svc.tokens.create_first_admin()) is not None:
            err.print("the first admin token for the REST API; it is shown only now:")
            out.print(secret, markup=False)
            if svc.settings.console:
                where = f"http://{svc.settings.host}:{svc.settings.port}/"
                err.print(f"sign in to the console at {where} with it", markup=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from synchub.store.migrate import current_revision, upgrade

    with services() as svc:
        upgrade(svc.db)
        out.print(f"database at revision {current_revision(svc.db)}")


@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Print every setting's effective value, secrets masked, and where it comes
    from: default, file (synchub.toml) or env (the variable named)."""
    with services() as svc:
        found = svc.settings.explained()
        found["rclone"] = rclone_explained(svc.settings, found["rclone"])
        if as_json:
            emit({name: vars(e) for name, e in found.items()})
            return
        for name, e in found.items():
            value = e.value if isinstance(e.value, str) else json.dumps(e.value)
            where = "default" if e.origin is None else f"from {e.origin}"
            shown = "(none)" if e.value in ("", [], {}) else value
            out.print(f"{name} = {shown}  # {where}", markup=False)


def rclone_explained(settings: Settings, found: Explained) -> Explained:
    """The rclone setting, with the binary the default finds."""
    from dataclasses import replace

    from synchub.engines.rclone_backends import rclone_binary

    if settings.rclone:
        return found
    try:
        return replace(found, value=rclone_binary())
    except SynchubError as exc:
        return replace(found, value=f"(none found: {exc.message})")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(envvar="SYNCHUB_HOST", help="Address to bind.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SYNCHUB_PORT")] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            envvar="SYNCHUB_WORKERS", min=1, max=256, help="Runs at once in the local pool."
        ),
    ] = 4,
    no_scheduler: Annotated[
        bool, typer.Option("--no-scheduler", help="Run no scheduler here (API only).")
    ] = False,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="Run no local pool (celery executor).")
    ] = False,
) -> None:
    """Run the API, the scheduler and the local worker pool in one process (with
    SYNCHUB_EXECUTOR=celery, runs go to Celery workers instead of the pool)."""
    from synchub import cli_procs

    cli_procs.setup_logging()
    with services() as svc:
        ensure_schema(svc)
        cli_procs.check_at_start(svc, err.get())
        seal_stored(svc)
        cli_procs.serve(
            svc,
            err.get(),
            host,
            port,
            workers=workers,
            scheduler=not no_scheduler,
            pool=not no_workers,
        )


@app.command("scheduler")
def scheduler_cmd() -> None:
    """Run a scheduler alone (celery executor). Several may run: one leads, another
    takes over within SYNCHUB_SCHEDULER_LEASE seconds when it dies."""
    from synchub import cli_procs

    cli_procs.setup_logging()
    with services() as svc:
        ensure_schema(svc)
        cli_procs.check_at_start(svc, err.get(), secrets=False)  # it opens none
        cli_procs.scheduler(svc, err.get())


@app.command("worker")
def worker_cmd(
    queues: Annotated[
        str,
        typer.Option(envvar="SYNCHUB_WORKER_QUEUES", help="Queues to take runs from, a,b."),
    ] = "default",
    concurrency: Annotated[
        int,
        typer.Option(envvar="SYNCHUB_WORKER_CONCURRENCY", min=1, max=256, help="Runs at once."),
    ] = 2,
    pool: Annotated[
        str,
        typer.Option(envvar="SYNCHUB_WORKER_POOL", help="Celery pool: prefork, solo or threads."),
    ] = "prefork",
    name: Annotated[
        str, typer.Option(envvar="SYNCHUB_WORKER_NAME", help="Node name; default synchub-PID@HOST.")
    ] = "",
) -> None:
    """Run a Celery worker that takes synchub's runs from the broker."""
    from synchub import cli_procs

    with services() as svc:
        ensure_schema(svc)
        argv = cli_procs.worker(
            svc, err.get(), queues=queues.split(","), concurrency=concurrency, pool=pool, name=name
        )
        seal_stored(svc)
    # Checked: this process becomes the worker, a fresh interpreter without the command
    # line's modules (see synchub/celery_worker.py). Same pid, environment and output.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 - this interpreter, with our own arguments


# -- remotes ------------------------------------------------------------------


def parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for number, pair in enumerate(pairs, 1):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            # Not quoted: a value given without its key is likely the secret itself.
            raise InvalidInput(f"Bad {what} number {number}: use key=value")
        result[key] = value
    return result


@remote_app.command("add")
def remote_add(
    name: str,
    type_: Annotated[
        str, typer.Argument(metavar="TYPE", help="rclone backend: local, sftp, s3, …")
    ],
    options: Annotated[
        list[str] | None, typer.Argument(help="key=value; value '-' reads it from stdin")
    ] = None,
    max_concurrency: Annotated[int | None, typer.Option(help="Runs using it at once.")] = None,
) -> None:
    """Add a remote. Secret options are encrypted; give one as key=- to keep it out of argv."""
    with services() as svc:
        ensure_schema(svc)
        values = option_values(options)
        view = svc.remotes.add(name, type_, values, max_concurrency=max_concurrency)
        out.print(f"added remote [bold]{view.name}[/] ({view.type})")


def option_values(options: list[str] | None) -> dict[str, str]:
    """key=value pairs; a value '-' is read from stdin (hidden at a terminal)."""
    values = parse_pairs(options or [], "option")
    for key, value in values.items():
        if value == "-":
            values[key] = check_text(
                typer.prompt(key, hide_input=True)
                if sys.stdin.isatty()
                else sys.stdin.readline().rstrip("\n"),
                f"the value of {key} read from stdin",
            )
    return values


@remote_app.command("edit")
def remote_edit(
    name: str,
    options: Annotated[
        list[str] | None, typer.Argument(help="key=value; value '-' reads it from stdin")
    ] = None,
    unset: Annotated[
        list[str] | None, typer.Option("--unset", help="Remove this option (repeat).")
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option(help="Runs using it at once; 0 removes the limit.")
    ] = None,
) -> None:
    """Change a remote: key=value sets an option, --unset removes one, the rest stays.
    When its secrets cannot be read (a lost or wrong key), give every secret option
    again: they replace the unreadable ones."""
    with services() as svc:
        ensure_schema(svc)
        changes: dict[str, str | None] = {**option_values(options)}
        changes.update(dict.fromkeys(unset or []))
        edited = svc.remotes.change(name, changes, max_concurrency=max_concurrency)
        if not edited.changed:
            out.print(f"nothing to change: remote [bold]{name}[/] is already so")
            return
        out.print(f"changed remote [bold]{name}[/] ({', '.join(edited.changed)})")


@remote_app.command("list")
def remote_list(as_json: JsonOpt = False) -> None:
    """List remotes."""
    with services() as svc:
        ensure_schema(svc)
        views = svc.remotes.list()
        now = svc.clock.now()
    if as_json:
        emit([v.as_dict() for v in views])
        return
    rows = []
    for v in views:
        options = [f"{k}={x}" for k, x in v.options.items()]
        if v.unreadable:
            options.append(f"<unreadable: {v.unreadable}>")
        limit = str(v.max_concurrency or "-")
        rows.append([v.name, v.type, " ".join(options), limit, ", ".join(v.used_by)])
    cli_tables.print_table(REMOTE_COLUMNS, rows, cli_tables.stdout_layout(now))


REMOTE_COLUMNS = (
    cli_tables.Column("name", cli_tables.Fit.END),
    cli_tables.Column("type"),
    cli_tables.Column("options", cli_tables.Fit.END, least=16),
    cli_tables.Column("limit"),
    cli_tables.Column("used by", cli_tables.Fit.END),
)


@remote_app.command("show")
def remote_show(name: str, as_json: JsonOpt = False) -> None:
    """Show a remote, secrets masked."""
    with services() as svc:
        ensure_schema(svc)
        view = svc.remotes.show(name)
        if as_json:
            emit(view.as_dict())
            return
        for key, value in view.as_dict().items():
            if key != "unreadable":
                out.print(f"{key}: {value}", markup=False)
        if view.unreadable:
            out.print(f"secrets: <unreadable: {view.unreadable}>", markup=False)


@remote_app.command("test")
def remote_test(name: str) -> None:
    """Check the remote answers: list its root with a short timeout."""
    with services() as svc:
        ensure_schema(svc)
        ok, message = svc.remotes.test(name)
    if not ok:
        fail(f"remote {name} is not reachable: {message}", 1)
    out.print(f"remote [bold]{name}[/] is reachable: {message}")


@remote_app.command("remove")
def remote_remove(name: str) -> None:
    """Remove a remote that no job and no other remote (alias, crypt, union …) uses."""
    with services() as svc:
        ensure_schema(svc)
        svc.remotes.remove(name)
        out.print(f"removed remote [bold]{name}[/]")


@remote_app.command("import")
def remote_import(
    path: Annotated[Path | None, typer.Argument(help="Default: rclone's own config file.")] = None,
    on_conflict: Annotated[
        str,
        typer.Option(
            "--on-conflict",
            help="A name already taken: fail (import nothing), skip it, or replace it",
            metavar="fail|skip|replace",
        ),
    ] = "fail",
) -> None:
    """Import the remotes of an existing rclone.conf (all or nothing)."""
    with services() as svc:
        ensure_schema(svc)
        done = svc.remotes.import_conf(path, on_conflict)
        for verb, names in (
            ("imported", [v.name for v in done.added]),
            ("replaced", [v.name for v in done.replaced]),
            ("skipped (already there)", done.skipped),
        ):
            if names or verb == "imported":
                listed = f": {', '.join(names)}" if names else ""
                out.print(f"{verb} {len(names)} remote(s){listed}", markup=False)


# -- jobs ---------------------------------------------------------------------

JOB_COLUMNS = (
    cli_tables.Column("name", cli_tables.Fit.END, least=16),
    cli_tables.Column("what", cli_tables.Fit.MIDDLE, least=16, weight=2),
    cli_tables.Column("schedule", cli_tables.Fit.END, least=10),
    cli_tables.Column("next"),
    cli_tables.Column("last run"),
    cli_tables.Column("when"),
)

Source = Annotated[str | None, typer.Option("--source", help="REMOTE:PATH or /abs/path")]
Dest = Annotated[str | None, typer.Option("--dest", help="REMOTE:PATH or /abs/path")]
Op = Annotated[
    str | None,
    typer.Option(
        "--op",
        help="sync (the default: make DEST match SOURCE; files missing from the source "
        "are deleted at DEST, within --delete-guard), copy (never deletes), move, check "
        "or bisync",
    ),
]
DeleteGuard = Annotated[
    str | None,
    typer.Option(
        "--delete-guard",
        help="sync/bisync: stop a run, changing nothing, that would delete more than this "
        "share (e.g. 50%, the default) or number of DEST's files; off: no limit",
    ),
]
Marker = Annotated[
    str | None,
    typer.Option(
        "--require-marker",
        help="A file name that must exist at the source root, or the run stops before "
        "changing anything (for removable drives and mounts)",
    ),
]
CheckAccess = Annotated[
    bool | None,
    typer.Option(
        "--check-access/--no-check-access",
        help="bisync: stop unless RCLONE_TEST is at both roots, or at neither (then the "
        "run puts it at both); on by default, as rclone advises",
    ),
]
KeepDeleted = Annotated[
    str | None,
    typer.Option(
        "--keep-deleted",
        help="sync/copy: move what runs delete or overwrite at DEST into "
        ".synchub-trash/ there, pruned after this period (e.g. 30d); off: destroy them",
    ),
]
KeepRunsOpt = Annotated[
    str | None,
    typer.Option(
        "--keep-runs",
        help="Which runs stay: a period (30d) or a number of runs (500), and always the "
        "last success and failure; default: the server's rule (90 days or the last 100)",
    ),
]
KeepLogsOpt = Annotated[
    str | None,
    typer.Option(
        "--keep-logs",
        help="How long its runs' logs and change reports stay (e.g. 14d); default: the "
        "server's (30 days)",
    ),
]
WindowOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--window",
        help='Hours its automatic runs may run, e.g. "22:00-06:00" or "Mon-Fri 22:00-06:00" '
        "(repeat; in its --tz, else the default zone); a run still going when the window "
        "closes winds down; manual runs run at any hour",
    ),
]
Cron = Annotated[str | None, typer.Option("--cron", help='Cron expression, e.g. "*/15 * * * *"')]
Tz = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="IANA zone --cron is read in, e.g. Europe/Berlin (only with --cron; default "
        "SYNCHUB_DEFAULT_TZ, else this machine's). Fire times are shown in it",
    ),
]
Every = Annotated[
    str | None,
    typer.Option(
        "--every",
        help="Interval with its unit: 30s, 15m, 6h, 1d, 1h30m (a bare number is refused: "
        "seconds or minutes?). Its fire times are shown in UTC",
    ),
]
Filters = Annotated[
    list[str] | None, typer.Option("--filter", help="rclone filter rule, e.g. '- *.tmp'")
]
Options = Annotated[
    list[str] | None, typer.Option("--option", help="Allowed rclone flag, e.g. --checksum")
]
Retries = Annotated[
    int | None, typer.Option("--retries", help="Further attempts after a failure (default 3)")
]
RetryDelay = Annotated[
    str | None, typer.Option("--retry-delay", help="First backoff with its unit (default 60s)")
]
Timeout = Annotated[
    str | None, typer.Option("--timeout", help="Stop a run after this long, with its unit: 2h")
]
Overlap = Annotated[str | None, typer.Option("--overlap", help="skip|queue|allow (default skip)")]
Queue = Annotated[str | None, typer.Option("--queue", help="Queue name (default 'default')")]
Misfire = Annotated[str | None, typer.Option("--misfire", help="skip|once|all (default once)")]
Kind = Annotated[
    str | None, typer.Option("--kind", help="rclone (default), command, or a plug-in kind")
]
Args = Annotated[
    list[str] | None, typer.Option("--arg", help="command jobs: one argv item (repeat)")
]
Envs = Annotated[list[str] | None, typer.Option("--env", help="command jobs: KEY=VALUE")]
Cwd = Annotated[str | None, typer.Option("--cwd", help="command jobs: working directory")]
Params = Annotated[
    list[str] | None, typer.Option("--param", help="plug-in kinds: key=value (JSON values allowed)")
]
Tags = Annotated[list[str] | None, typer.Option("--tag", help="Tag (repeat)")]
StaleAfter = Annotated[
    str | None,
    typer.Option(
        "--stale-after",
        help="Alert 'stale' after this long without a success, e.g. 2d; auto (default): "
        "twice the schedule's interval plus an hour",
    ),
]
LongAfter = Annotated[
    str | None,
    typer.Option(
        "--long-after",
        help="Alert 'long' for a run going longer, e.g. 3h; auto (default): 3 x the median "
        "of its last 20 successful runs",
    ),
]
MaxDepth = Annotated[
    int | None,
    typer.Option("--max-depth", help="rclone --max-depth: 1 = top folder only; -1 = no limit"),
]


#: The flags that set each kind's parameters: a flag given for a job of another kind
#: is refused, not dropped.
KIND_FLAGS = {
    "rclone": ("--source", "--dest", "--op", "--filter", "--option"),
    "command": ("--arg", "--env", "--cwd"),
}

TZ_WITHOUT_CRON = "--tz goes with --cron: it is the zone the cron expression is read in"


def job_params(
    name: str,
    kind: str,
    source: str | None,
    dest: str | None,
    op: str | None,
    filters: list[str] | None,
    options: list[str] | None,
    args: list[str] | None,
    envs: list[str] | None,
    cwd: str | None,
    params: list[str] | None,
) -> dict[str, Any] | None:
    """The parameters of job `name`, of `kind`, from the flags given; None when none
    were given. InvalidInput for a flag that goes with another kind."""
    given: dict[str, Any] = {}
    by_flag = {
        "--source": ("source", source),
        "--dest": ("destination", dest),
        "--op": ("op", op),
        "--filter": ("filters", filters),
        "--option": ("options", options),
        "--arg": ("argv", args),
        "--env": ("env", None if envs is None else parse_pairs(envs, "env")),
        "--cwd": ("cwd", cwd),
    }
    for owner, flags in KIND_FLAGS.items():
        for flag in flags:
            key, value = by_flag[flag]
            if value is None:
                continue
            if owner != kind:
                hint = " (add --kind command)" if owner == "command" else ""
                raise InvalidInput(
                    f"{flag} goes with {owner} jobs{hint}; job {name} is of kind {kind}"
                )
            given[key] = value
    for key, raw in parse_pairs(params or [], "param").items():
        try:
            given[key] = json.loads(raw)
        except json.JSONDecodeError:
            given[key] = raw
        check_tree(given[key], f"--param {key}")  # JSON escapes are decoded only here
    return given or None


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
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off")] = False,
    kind: Kind = None,
    args: Args = None,
    envs: Envs = None,
    cwd: Cwd = None,
    params: Params = None,
    tags: Tags = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Watched folder: changes in the source start a run (op defaults to copy; "
            "rescanned every SYNCHUB_WATCH_RESCAN without --cron/--every)",
        ),
    ] = False,
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
    with services() as svc:
        if tz is not None and cron is None:
            raise InvalidInput(TZ_WITHOUT_CRON)
        ensure_schema(svc)
        params_given = job_params(
            name, kind or "rclone", source, dest, op, filters, options, args, envs, cwd, params
        )
        from synchub.services.jobs import JobFields

        spec = JobFields(
            kind=kind,
            params=params_given,
            cron=cron,
            tz=tz,
            every=every,
            retries=retries,
            retry_delay=retry_delay,
            timeout=timeout,
            overlap=overlap,
            queue=queue,
            misfire=misfire,
            enabled=not disabled,
            tags=tags,
            watch=watch,
            max_depth=max_depth,
            delete_guard=delete_guard,
            require_marker=require_marker,
            check_access=check_access,
            keep_deleted=keep_deleted,
            stale_after=stale_after,
            long_after=long_after,
            hooks=hooks_given(hooks),
            after=after,
            keep_runs=keep_runs,
            keep_logs=keep_logs,
            windows=windows,
        )
        view = svc.jobs.add(name, spec)
        out.print(
            f"added job [bold]{name}[/]: {view['schedule']['description']}"
            + (f", next at {view['next_fire_at']}" if view["next_fire_at"] else "")
        )
        warn_unwatched(view)
        if op is None and view["kind"] == "rclone" and view["params"].get("op") == "sync":
            out.print(
                f"op sync (the default): files missing from the source are deleted at "
                f"{view['params']['destination']}, {guarded_at(view['delete_guard'])}",
                markup=False,
            )
        if view.get("check_access"):
            out.print(
                "bisync access check on: the first run puts RCLONE_TEST at both roots, and "
                "a run stops if it is then missing on one side (--no-check-access: off)",
                markup=False,
            )


def guarded_at(guard: str) -> str:
    """The delete guard `guard` in words, for one line."""
    if guard == "off":
        return "with no delete guard (--delete-guard off)"
    limit = guard if guard.endswith("%") else f"{guard} file{'s' if guard != '1' else ''}"
    return f"guarded at {limit}: a run that would delete more stops before changing anything"


EditOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        help="Replace the job's rclone options with these (repeat); see --add-option",
    ),
]
AddOptions = Annotated[
    list[str] | None,
    typer.Option("--add-option", help="Add an rclone option to the job's (repeat)"),
]
RemoveOptions = Annotated[
    list[str] | None,
    typer.Option(
        "--remove-option",
        help="Remove one of the job's options, whole or by flag name: --bwlimit (repeat)",
    ),
]
Clear = Annotated[
    list[str] | None,
    typer.Option(
        "--clear",
        help="Empty a list: options, filters, tags, hooks, after or windows (repeat)",
        metavar="LIST",
    ),
]
#: The lists --clear empties.
CLEARABLE = ("options", "filters", "tags", "hooks", "after", "windows")


def warn_unwatched(view: dict[str, Any]) -> None:
    """A watched folder that cannot be watched yet is saved (a drive may be plugged
    in later), with a word about it."""
    if view.get("watch_problem"):
        err.print(
            f"warning: {view['watch_problem']}; the job is saved, and the folder is "
            "watched once it can be (`synchub job show` tells)",
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
    timeout: Annotated[
        str | None,
        typer.Option("--timeout", help="Stop a run after this long, e.g. 2h; none removes it"),
    ] = None,
    overlap: Overlap = None,
    queue: Queue = None,
    misfire: Misfire = None,
    manual: Annotated[bool, typer.Option("--manual", help="Remove the schedule")] = False,
    kind: Kind = None,
    args: Args = None,
    envs: Envs = None,
    cwd: Cwd = None,
    params: Params = None,
    tags: Tags = None,
    watch: Annotated[
        bool | None,
        typer.Option("--watch/--no-watch", help="Watch the source folder for changes, or stop"),
    ] = None,
    max_depth: MaxDepth = None,
    delete_guard: DeleteGuard = None,
    require_marker: Annotated[
        str | None,
        typer.Option(
            "--require-marker", help="A file that must exist at the source root; '' removes it"
        ),
    ] = None,
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
    with services() as svc:
        ensure_schema(svc)
        if manual and (cron or every):
            raise InvalidInput("Give --manual, or a new schedule, not both")
        if tz is not None and cron is None:
            if every or manual:
                raise InvalidInput(TZ_WITHOUT_CRON)
            if svc.jobs.show(name)["schedule"]["kind"] != "cron":
                raise InvalidInput(f"{TZ_WITHOUT_CRON}; job {name} has no cron schedule")
        cleared = cleared_lists(clear, options, filters, tags, add_options, hooks, after, windows)
        job_kind = kind or svc.jobs.show(name)["kind"]
        given = job_params(
            name,
            job_kind,
            source,
            dest,
            op,
            cleared.get("filters", filters),
            cleared.get("options", options),
            args,
            envs,
            cwd,
            params,
        )
        from synchub.services.jobs import JobFields

        spec = JobFields(
            kind=kind,
            params=given,
            cron=cron,
            tz=tz,
            every=every,
            manual=manual,
            retries=retries,
            retry_delay=retry_delay,
            timeout=timeout,
            overlap=overlap,
            queue=queue,
            misfire=misfire,
            tags=cleared.get("tags", tags),
            watch=watch,
            max_depth=max_depth,
            delete_guard=delete_guard,
            require_marker=require_marker,
            check_access=check_access,
            keep_deleted=keep_deleted,
            stale_after=stale_after,
            long_after=long_after,
            keep_runs=keep_runs,
            keep_logs=keep_logs,
            add_options=add_options,
            remove_options=remove_options,
            hooks={} if "hooks" in cleared else hooks_given(hooks),
            after=cleared.get("after", after),
            windows=cleared.get("windows", windows),
        )
        edited = svc.jobs.change(name, spec)
        if not edited.changed:
            out.print(f"nothing to change: job [bold]{name}[/] is already so")
            return
        out.print(
            f"changed job [bold]{name}[/] ({', '.join(edited.changed)}): "
            f"{edited.view['schedule']['description']}"
        )
        warn_unwatched(edited.view)


def cleared_lists(
    clear: list[str] | None,
    options: list[str] | None,
    filters: list[str] | None,
    tags: list[str] | None,
    add_options: list[str] | None,
    hooks: list[str] | None = None,
    after: list[str] | None = None,
    windows: list[str] | None = None,
) -> dict[str, list[str]]:
    """The lists --clear empties, as {field: []}; InvalidInput for an unknown list or
    one also given a new value."""
    given = {
        "options": options or add_options, "filters": filters, "tags": tags, "hooks": hooks,
        "after": after, "windows": windows,
    }  # fmt: skip
    cleared: dict[str, list[str]] = {}
    for name in clear or []:
        if name not in CLEARABLE:
            raise InvalidInput(f"Bad --clear {name!r}: use {', '.join(CLEARABLE)}")
        if given[name]:
            raise InvalidInput(f"Give --clear {name} or new {name}, not both")
        cleared[name] = []
    return cleared


@job_app.command("list")
def job_list(as_json: JsonOpt = False) -> None:
    """List jobs: what each does, when it fires next, how its last run went."""
    with services() as svc:
        ensure_schema(svc)
        views = svc.jobs.list()
        last_runs = svc.overview.last_runs()
        now = svc.clock.now()
    for view in views:
        view["last_run"] = last_runs.get(view["id"])
    if as_json:
        emit(views)
        return
    layout = cli_tables.stdout_layout(now)
    cli_tables.print_table(JOB_COLUMNS, [job_row(v, layout) for v in views], layout)


def job_row(view: dict[str, Any], layout: cli_tables.Layout) -> list[str]:
    p, last = view["params"], view["last_run"]
    what = (
        f"{p.get('op')} {p.get('source')}{cli_tables.ARROW}{p.get('destination')}"
        if view["kind"] == "rclone"
        else view["kind"]
    )
    return [
        view["name"],
        what,
        short_schedule(view["schedule"]) + (" + watch" if view.get("watch") else ""),
        layout.when(view["next_fire_at"]) if view["enabled"] else "disabled",
        "-" if last is None else last["state"] + (" (dry run)" if last["dry_run"] else ""),
        "-" if last is None else layout.when(last["at"]),
    ]


def short_schedule(schedule: dict[str, Any]) -> str:
    """'30 2 * * * (Europe/Berlin)', 'every 15m' or 'manual': a table's width."""
    if schedule["kind"] == "cron":
        return f"{schedule['cron']} ({schedule['tz']})"
    if schedule["kind"] == "interval":
        from synchub.core.durations import format_duration

        return f"every {format_duration(schedule['every_s'])}"
    return "manual"


@job_app.command("show")
def job_show(name: str, as_json: JsonOpt = False) -> None:
    """Show a job and its next fire times."""
    with services() as svc:
        ensure_schema(svc)
        view = svc.jobs.show(name)
        view["next_fires"] = [t.isoformat() for t in svc.jobs.next(name, 5)]
        if as_json:
            emit(view)
            return
        print_job(view)


def _retry_window(delay_s: int) -> str:
    # The policy waits half to all of the delay, at random (see RetryPolicy.delay).
    return f"{delay_s / 2:g}-{delay_s}s"


def print_job(view: dict[str, Any]) -> None:
    p, sched = view["params"], view["schedule"]
    state = "enabled" if view["enabled"] else "disabled"
    out.print(f"[bold]{view['name']}[/] ({view['kind']}, {state})")
    if view["kind"] == "rclone":
        out.print(f"  {p['op']} {p['source']} -> {p['destination']}", markup=False)
        for rule in p.get("filters", []):
            out.print(f"  filter {rule}", markup=False)
        if p.get("options"):
            out.print(f"  options {' '.join(p['options'])}", markup=False)
        if view.get("delete_guard"):
            out.print(f"  delete guard {view['delete_guard']}", markup=False)
        if view.get("require_marker"):
            out.print(f"  requires {view['require_marker']} at the source root", markup=False)
        if view.get("check_access") is not None:
            checked = "on (RCLONE_TEST at both roots)" if view["check_access"] else "off"
            out.print(f"  access check {checked}", markup=False)
        if view.get("keep_deleted"):
            out.print(
                f"  keeps deleted and overwritten files {view['keep_deleted']} in .synchub-trash/",
                markup=False,
            )
    else:
        out.print(f"  params {json.dumps(p)}", markup=False)
    out.print(f"  schedule: {sched['description']}, misfire {view['misfire']}", markup=False)
    if view.get("watch"):
        problem = view.get("watch_problem")
        out.print(
            f"  watched folder: {problem}" if problem else "  watched folder: changes start runs",
            markup=False,
        )
    timeout = f"{view['timeout_s']}s" if view["timeout_s"] else "none"
    out.print(
        f"  retries {view['retries']} (first after {_retry_window(view['retry_delay_s'])}), "
        f"timeout {timeout}, overlap {view['overlap']}, queue {view['queue']}",
        markup=False,
    )
    if view["tags"]:
        out.print(f"  tags {', '.join(view['tags'])}", markup=False)
    if view.get("stale_after_s") or view.get("long_after_s"):
        from synchub.core.durations import format_duration

        stale, long = view.get("stale_after_s"), view.get("long_after_s")
        out.print(
            f"  alerts: stale after {format_duration(stale) if stale else 'auto'}, "
            f"long after {format_duration(long) if long else 'auto'}",
            markup=False,
        )
    if view.get("muted_until"):
        out.print(f"  alerts muted until {view['muted_until']}", markup=False)
    for line in hook_lines(view):
        out.print(line, markup=False)
    if view.get("keep_runs") or view.get("keep_logs"):
        out.print(
            f"  keeps runs {view.get('keep_runs') or 'by default'}, "
            f"logs {view.get('keep_logs') or 'by default'}",
            markup=False,
        )
    if view.get("windows"):
        out.print(
            f"  runs only in {', '.join(view['windows'])} ({view['windows_tz']}); "
            "manual runs at any hour",
            markup=False,
        )
    if view["next_fires"]:
        out.print("  next fires:")
        for fire in view["next_fires"]:
            out.print(f"    {fire}")


@job_app.command("enable")
def job_enable(name: str) -> None:
    """Switch a job on; its schedule counts from now."""
    with services() as svc:
        ensure_schema(svc)
        view = svc.jobs.set_enabled(name, True)
        out.print(f"enabled [bold]{name}[/]; next fire {view['next_fire_at'] or '-'}")


@job_app.command("disable")
def job_disable(name: str) -> None:
    """Switch a job off; running runs go on."""
    with services() as svc:
        ensure_schema(svc)
        svc.jobs.set_enabled(name, False)
        out.print(f"disabled [bold]{name}[/]")


@job_app.command("mute")
def job_mute(
    name: str,
    duration: Annotated[str, typer.Argument(help="How long, e.g. 30m, 2h, 1d.")],
) -> None:
    """Send no alert for a job for a while (runs go on); a new mute replaces the old."""
    with services() as svc:
        ensure_schema(svc)
        view = svc.jobs.mute(name, duration)
    out.print(f"muted alerts of [bold]{name}[/] until {view['muted_until']}")


@job_app.command("unmute")
def job_unmute(name: str) -> None:
    """Send a job's alerts again."""
    with services() as svc:
        ensure_schema(svc)
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
        ensure_schema(svc)
        outcome = svc.jobs.remove(name, keep_history=keep_history)
        if keep_history:
            out.print(f"removed job [bold]{name}[/]; kept its {outcome['runs_kept']} run(s)")
        else:
            out.print(f"removed job [bold]{name}[/] and its {outcome['runs_deleted']} run(s)")
        if outcome["runs_cancelled"]:
            ids = ", ".join(str(i) for i in outcome["runs_cancelled"])
            out.print(f"cancelled waiting run(s) {ids}")


@job_app.command("next")
def job_next(
    name: str,
    count: Annotated[int, typer.Option("-n", min=1, max=1000)] = 5,
    as_json: JsonOpt = False,
) -> None:
    """The job's next fire times."""
    with services() as svc:
        ensure_schema(svc)
        fires = [t.isoformat() for t in svc.jobs.next(name, count)]
        if as_json:
            emit(fires)
            return
        for fire in fires:
            out.print(fire)
        if not fires:
            enabled = svc.jobs.show(name)["enabled"]
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
    from synchub.cli_runs import run_now

    with services() as svc:
        ensure_schema(svc)
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
    from synchub.cli_runs import run_now

    with services() as svc:
        ensure_schema(svc)
        code = run_now(svc, name, wait=wait, out=out.get(), resync=True)
    raise typer.Exit(code)


# -- runs ---------------------------------------------------------------------


@runs_app.command("list")
def runs_list(
    job: Annotated[str | None, typer.Option("--job")] = None,
    state: Annotated[str | None, typer.Option("--state", help="e.g. failed or failed,lost")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List runs, newest first."""
    with services() as svc:
        ensure_schema(svc)
        views = svc.runs.list(job=job, state=state, limit=limit)
        now = svc.clock.now()
    if as_json:
        emit(views)
        return
    layout = cli_tables.stdout_layout(now)
    cli_tables.print_table(RUN_COLUMNS, [run_row(v, layout) for v in views], layout)


RUN_COLUMNS = (
    cli_tables.Column("id"),
    cli_tables.Column("job", cli_tables.Fit.END, least=6),
    cli_tables.Column("state"),
    cli_tables.Column("trigger"),
    cli_tables.Column("started"),
    cli_tables.Column("took"),
    cli_tables.Column("files"),
    cli_tables.Column("size"),
    cli_tables.Column("error", cli_tables.Fit.END, least=10, weight=3),
)


def run_row(view: dict[str, Any], layout: cli_tables.Layout) -> list[str]:
    v, stats = view, view["stats"]
    return [
        str(v["id"]),
        v["job"] + (" (deleted)" if v["job_deleted"] else ""),
        v["state"]
        + (f" #{v['attempt']}" if v["attempt"] > 1 else "")
        + (" (dry run)" if v["dry_run"] else ""),
        v["trigger"],
        layout.when(v["started_at"] or v["scheduled_for"] or v["created_at"]),
        layout.span(stats["elapsed_s"]) if v["finished_at"] and v["started_at"] else "",
        str(stats["files"]),
        layout.size(stats["bytes"]),
        v["error"] or v["reason"] or "",
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
        ensure_schema(svc)
        view = svc.runs.show(run)
        if files:
            view["files"] = svc.runs.files(run)
        if as_json:
            emit(view)
            return
        from synchub.cli_show import run_lines

        for line in run_lines(view):
            out.print(line, markup=False)
        if files:
            print_files(view)


def print_files(view: dict[str, Any]) -> None:
    """The change report; previews (dry runs, a stopped run's deletes) said as such."""
    rows = view.get("files", [])
    if view["dry_run"]:
        out.print("dry run: nothing was changed; a real run would:", markup=False)
    elif any(f["action"].startswith("would_") for f in rows):
        out.print("stopped before any change; it would have:", markup=False)
    for f in rows:
        action = f["action"].replace("_", " ")
        out.print(
            f"  {action:<13} {f['size'] if f['size'] is not None else '':>12} "
            f"{f['path']}"
            + (f"  ({f['error']})" if f["error"] else "")
            + (f"  -> kept at {f['kept_at']}" if f.get("kept_at") else ""),
            markup=False,
        )
    if not rows:
        out.print("  no file changes", markup=False)


@runs_app.command("logs")
def runs_logs(run: int, follow: Annotated[bool, typer.Option("--follow", "-f")] = False) -> None:
    """Print a run's log; --follow waits for new lines until it ends."""
    from synchub.cli_runs import print_line

    with services() as svc:
        ensure_schema(svc)
        if not follow:
            for line in svc.runs.logs(run):
                print_line(out.get(), line)
            return
        for item in svc.runs.follow(run):
            if "state" in item:
                out.print(f"run {run} ended: [bold]{item['state']}[/]")
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
        ensure_schema(svc)
        done = svc.runs.restore(run, path)
        if as_json:
            emit(done)
        else:
            out.print(f"restored {len(done['restored'])} file(s) from {done['kept_in']} "
                      f"to {done['destination']}", markup=False)  # fmt: skip
            for name in done["restored"]:
                out.print(f"  {name}", markup=False)
            if done["unchanged"]:
                out.print(f"{len(done['unchanged'])} file(s) already in place, as kept",
                          markup=False)  # fmt: skip
            out.print(f"what they replaced is kept in {done['kept_aside']}", markup=False)
            for error in done["errors"]:
                out.print(f"  error: {error}", markup=False)
    if done["errors"]:
        raise typer.Exit(1)


@runs_app.command("cancel")
def runs_cancel(run: int) -> None:
    """Cancel a run: at once if it has not started, else its runner stops it."""
    with services() as svc:
        ensure_schema(svc)
        view = svc.runs.cancel(run)
        word = "cancel requested" if view["state"] == "running" else view["state"]
        out.print(f"run {run}: {word}")


@runs_app.command("retry")
def runs_retry(run: int) -> None:
    """Start a new attempt of an ended run."""
    with services() as svc:
        ensure_schema(svc)
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
        ensure_schema(svc)
        pruned = svc.retention.prune_now(job=job, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    out.print(
        f"{verb} {pruned.runs} run(s), {pruned.log_lines} log line(s) and "
        f"{pruned.report_rows} change-report row(s); the logs of {pruned.logs_of_runs} "
        f"kept run(s); {pruned.tasks} done file task(s)",
        markup=False,
    )


# -- cron ---------------------------------------------------------------------


@app.command()
def cron(
    expr: str,
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="IANA zone (default: SYNCHUB_DEFAULT_TZ, else this machine's)"),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="ISO-8601 start (default now)")
    ] = None,
    count: Annotated[int, typer.Option("-n", min=1, max=1000)] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Check a cron expression, describe it and list its next fire times."""
    from zoneinfo import ZoneInfo

    from synchub.core.schedules import cron_schedule, describe, next_fires

    try:
        zone_name = tz or _default_zone()
        schedule = cron_schedule(expr, zone_name)
        after = datetime.now(UTC)
        if start is not None:
            try:
                after = datetime.fromisoformat(start)
            except ValueError:
                raise InvalidInput(
                    f"Bad --from {start!r}: use ISO-8601, e.g. 2025-03-30T00:00"
                ) from None
            if after.tzinfo is None:
                after = after.replace(tzinfo=ZoneInfo(zone_name))
        fires = [
            f.astimezone(ZoneInfo(zone_name)).isoformat()
            for f in next_fires(schedule, after, count)
        ]
    except InvalidInput as exc:
        fail(exc.message, 2)
    if as_json:
        emit({"expr": expr, "tz": zone_name, "description": describe(schedule), "next": fires})
        return
    out.print(describe(schedule), markup=False)
    for fire in fires:
        out.print(f"  {fire}")


def _default_zone() -> str:
    from pydantic import ValidationError

    from synchub.config import Settings
    from synchub.core.schedules import local_zone_name

    try:
        configured = Settings().default_tz
    except ValidationError as exc:
        fail(settings_problem(exc), 2)
    return configured or local_zone_name()


def check_argv(argv: list[str]) -> None:
    """InvalidText for the first argument that breaks the text rule (core/text.py).
    Bytes that are not UTF-8 reach Python as lone surrogates, and are refused too."""
    previous = ""
    for number, arg in enumerate(argv, 1):
        option, attached, _ = arg.partition("=")
        multiline = previous in MULTILINE_OPTIONS or (
            bool(attached) and option in MULTILINE_OPTIONS
        )
        after = f" (after {previous})" if previous.startswith("-") else ""
        check_text(arg, f"argument {number}{after}", multiline=multiline)
        previous = arg


def main() -> None:
    # Freezing the heap at exit spares the interpreter's final collection walking
    # every imported module's objects: ~0.3 s of every command's run time.
    atexit.register(gc.freeze)
    # Whatever else prints (click's usage errors) cannot fail on a lone surrogate.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        check_argv(sys.argv[1:])
    except InvalidInput as exc:
        err.print(f"error: {exc.message}", markup=False)
        raise SystemExit(2) from None
    raise SystemExit(run_app())


def run_app() -> int:
    """Run the command; a usage error is one line on stderr and exit 2, as every
    other bad input is (click would draw a box of several lines)."""
    try:
        code = app(standalone_mode=False)
    except Exception as exc:
        # click's exceptions, vendored by recent typer releases: known by their shape.
        name = type(exc).__name__
        if name == "Abort":
            err.print("error: aborted", markup=False)
            return 1
        exit_code = getattr(exc, "exit_code", None)
        if not hasattr(exc, "format_message") or not isinstance(exit_code, int):
            raise
        if name == "NoArgsIsHelpError":
            sys.stdout.write(exc.format_message())  # the help (rich printed it already)
            return 2
        ctx = getattr(exc, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        err.print(f"error: {' '.join(exc.format_message().split())}{hint}", markup=False)
        return exit_code
    return code if isinstance(code, int) else 0
