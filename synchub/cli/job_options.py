"""The options `job add` and `job edit` share, and the one builder that turns a
command's flags into the JobFields the job service takes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synchub.cli.hooks import hooks_given
from synchub.cli.shared import parse_pairs
from synchub.core.errors import InvalidInput
from synchub.core.text import check_tree

if TYPE_CHECKING:
    from synchub.services.jobs.fields import JobFields

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

Disabled = Annotated[bool, typer.Option("--disabled", help="Add it switched off")]
Manual = Annotated[bool, typer.Option("--manual", help="Remove the schedule")]
Watch = Annotated[
    bool,
    typer.Option(
        "--watch",
        help="Watched folder: changes in the source start a run (op defaults to copy; "
        "rescanned every SYNCHUB_WATCH_RESCAN without --cron/--every)",
    ),
]
WatchOrNot = Annotated[
    bool | None,
    typer.Option("--watch/--no-watch", help="Watch the source folder for changes, or stop"),
]
EditTimeout = Annotated[
    str | None,
    typer.Option("--timeout", help="Stop a run after this long, e.g. 2h; none removes it"),
]
EditMarker = Annotated[
    str | None,
    typer.Option(
        "--require-marker", help="A file that must exist at the source root; '' removes it"
    ),
]
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


#: The flags that set each kind's parameters: a flag given for a job of another kind
#: is refused, not dropped.
KIND_FLAGS = {
    "rclone": ("--source", "--dest", "--op", "--filter", "--option"),
    "command": ("--arg", "--env", "--cwd"),
}

TZ_WITHOUT_CRON = "--tz goes with --cron: it is the zone the cron expression is read in"


def job_params(name: str, kind: str, flags: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parameters of job `name`, of `kind`, from the flags given (a command's
    parameters by name); None when none were given. InvalidInput for a flag that goes
    with another kind."""
    given: dict[str, Any] = {}
    envs = flags["envs"]
    by_flag = {
        "--source": ("source", flags["source"]),
        "--dest": ("destination", flags["dest"]),
        "--op": ("op", flags["op"]),
        "--filter": ("filters", flags["filters"]),
        "--option": ("options", flags["options"]),
        "--arg": ("argv", flags["args"]),
        "--env": ("env", None if envs is None else parse_pairs(envs, "env")),
        "--cwd": ("cwd", flags["cwd"]),
    }
    for owner, owned in KIND_FLAGS.items():
        for flag in owned:
            key, value = by_flag[flag]
            if value is None:
                continue
            if owner != kind:
                hint = " (add --kind command)" if owner == "command" else ""
                raise InvalidInput(
                    f"{flag} goes with {owner} jobs{hint}; job {name} is of kind {kind}"
                )
            given[key] = value
    for key, raw in parse_pairs(flags["params"] or [], "param").items():
        try:
            given[key] = json.loads(raw)
        except json.JSONDecodeError:
            given[key] = raw
        check_tree(given[key], f"--param {key}")  # JSON escapes are decoded only here
    return given or None


def cleared_lists(flags: Mapping[str, Any]) -> dict[str, list[str]]:
    """The lists `job edit --clear` empties, as {field: []}, from its flags (by
    parameter name); InvalidInput for an unknown list or one also given a new value."""
    given = {
        "options": flags["options"] or flags["add_options"], "filters": flags["filters"],
        "tags": flags["tags"], "hooks": flags["hooks"], "after": flags["after"],
        "windows": flags["windows"],
    }  # fmt: skip
    cleared: dict[str, list[str]] = {}
    for name in flags["clear"] or []:
        if name not in CLEARABLE:
            raise InvalidInput(f"Bad --clear {name!r}: use {', '.join(CLEARABLE)}")
        if given[name]:
            raise InvalidInput(f"Give --clear {name} or new {name}, not both")
        cleared[name] = []
    return cleared


#: The flags both commands take, each named as JobFields names it.
SHARED_FIELDS = (
    "kind", "cron", "tz", "every", "retries", "retry_delay", "timeout", "overlap", "queue",
    "misfire", "tags", "watch", "max_depth", "delete_guard", "require_marker", "check_access",
    "keep_deleted", "stale_after", "long_after", "keep_runs", "keep_logs", "after", "windows",
)  # fmt: skip


def job_fields(
    name: str,
    kind: str,
    flags: Mapping[str, Any],
    cleared: Mapping[str, list[str]] | None = None,
    **only: Any,
) -> JobFields:
    """What a command's flags (its parameters by name) ask of job `name`, of `kind`:
    the kind's parameters from their flags (`job_params`), the hooks from --hook, the
    lists in `cleared` (`cleared_lists`) empty, the shared fields as given, and `only`,
    what one command alone takes. InvalidInput for a flag that goes with another kind,
    or a bad --hook."""
    from synchub.services.jobs.fields import JobFields

    given = {**flags, **(cleared or {})}
    params = job_params(name, kind, given)
    hooks = {} if cleared and "hooks" in cleared else hooks_given(given["hooks"])
    shared = {field: given[field] for field in SHARED_FIELDS}
    return JobFields(params=params, hooks=hooks, **shared, **only)
