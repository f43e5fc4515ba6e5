"""A job's fields as a user gives them (JobFields), and how an add or an edit makes
them whole: defaults, edits over the stored job, durations and choices read."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from synchub.core.durations import format_duration, parse_duration
from synchub.core.errors import InvalidInput, InvalidSchedule
from synchub.core.hooks import shown
from synchub.core.policies import OverlapPolicy
from synchub.core.retention import KeepRuns
from synchub.core.safety import GUARDED_OPS
from synchub.core.schedules import MisfirePolicy, ScheduleKind
from synchub.store.tables import JobRow


@dataclass(frozen=True)
class JobFields:
    """What a user gives to define or edit a job. None means default (add) or keep (edit)."""

    kind: str | None = None
    params: dict[str, Any] | None = None  #: the kind's parameters, e.g. op/source/destination
    cron: str | None = None
    tz: str | None = None
    every: str | None = None  #: interval as typed, e.g. "15m"
    manual: bool = False  #: drop any schedule
    retries: int | None = None
    retry_delay: str | None = None
    timeout: str | None = None  #: "", "none" or "off" removes the timeout
    overlap: str | None = None
    queue: str | None = None
    misfire: str | None = None
    enabled: bool | None = None
    tags: list[str] | None = field(default=None)
    watch: bool | None = None  #: a watched folder: changes in the source trigger runs
    #: rclone's --max-depth, kept among the job's options; -1 removes it
    max_depth: int | None = None
    #: sync/bisync: "50%", a number of files, or "off" (kept in the params); ""
    #: removes the job's own guard, leaving the default
    delete_guard: str | None = None
    #: a file that must exist at the source root for a run to start; "" removes it
    require_marker: str | None = None
    #: bisync: rclone's access check with its RCLONE_TEST files (on unless turned off)
    check_access: bool | None = None
    #: sync/copy: keep what runs delete or overwrite for this long ("30d"); "off" stops
    keep_deleted: str | None = None
    #: alert `stale` after this long without a success; "" or "auto": twice the
    #: schedule's interval plus an hour
    stale_after: str | None = None
    #: alert `long` for a run still going after this long; "" or "auto": 3 x the
    #: median of its last 20 successful runs
    long_after: str | None = None
    #: which runs stay: a period ("30d") or a number of runs ("500"); "default" or ""
    #: goes back to the settings' rule
    keep_runs: str | None = None
    #: how long its runs' logs and change reports stay ("14d"); "default" or "": the
    #: settings' keep_logs_days
    keep_logs: str | None = None
    #: edit only: rclone options appended to the job's (those already there stay once)
    add_options: list[str] | None = None
    #: edit only: rclone options taken out, by the whole option or by its flag name
    remove_options: list[str] | None = None
    #: commands run around each run, by event (core.hooks.parse_hooks); {} removes them
    hooks: dict[str, Any] | None = None
    #: run after these jobs end: "JOB" or "JOB:success|failure|always"; [] removes
    after: list[str] | None = None
    #: the hours its automatic runs may run: "22:00-06:00", "Mon-Fri 22:00-06:00"
    #: (core.windows), in its cron zone or the default one; [] (or ["none"]) removes
    windows: list[str] | None = None
    #: edit only: `params` replaces the job's params whole instead of key by key (a
    #: configuration file says all of them)
    replace_params: bool = False


DEFAULTS = JobFields(
    kind="rclone",
    retries=3,
    retry_delay="60s",
    timeout="",
    overlap="skip",
    queue="default",
    misfire="once",
    enabled=True,
    tags=[],
    watch=False,
    stale_after="",
    long_after="",
    keep_runs="",
    keep_logs="",
    windows=[],
)


#: The longest interval, retry delay or timeout: ten years, which fits the columns'
#: 32-bit integers and keeps every fire time computable.
MAX_DURATION_S = 10 * 365 * 86400


def new_fields(spec: JobFields) -> JobFields:
    """A new job's fields: `spec` over the defaults."""
    merged = _overlay(spec, DEFAULTS)
    if merged.watch and merged.kind == "rclone" and "op" not in (merged.params or {}):
        # New and changed files go up; nothing is deleted at the destination.
        merged = replace(merged, params={**(merged.params or {}), "op": "copy"})
    return merged


def edited_fields(row: JobRow, spec: JobFields) -> tuple[JobFields, bool]:
    """The job's fields after an edit giving `spec`, and whether its schedule
    changes (it then counts from now)."""
    current = fields_of(row)
    schedule_changed = any(x is not None for x in (spec.cron, spec.tz, spec.every)) or spec.manual
    _check_tz_edit(spec, row)
    if spec.cron is not None or spec.every is not None or spec.manual:
        # An interval's stored zone (UTC) is no choice of the user's: a new cron
        # expression is read in the default zone unless --tz says.
        keep_tz = row.tz if row.schedule_kind == ScheduleKind.CRON.value else None
        current = replace(current, cron=None, every=None, tz=keep_tz)
    base = {} if spec.replace_params else row.params
    params = _edited_options(row, {**base, **(spec.params or {})}, spec)
    return replace(_overlay(spec, current), params=params), schedule_changed


def fields_of(row: JobRow) -> JobFields:
    return JobFields(
        kind=row.kind,
        params=None,
        cron=row.cron,
        tz=row.tz,
        every=format_duration(row.every_s) if row.every_s else None,
        retries=row.retries,
        retry_delay=f"{row.retry_delay_s}s",
        timeout=f"{row.timeout_s}s" if row.timeout_s else "",
        overlap=row.overlap,
        queue=row.queue,
        misfire=row.misfire,
        enabled=row.enabled,
        tags=list(row.tags),
        watch=row.watch,
        stale_after=f"{row.stale_after_s}s" if row.stale_after_s else "",
        long_after=f"{row.long_after_s}s" if row.long_after_s else "",
        hooks=shown(row.hooks),
        keep_runs=keep_runs_text(row) or "",
        keep_logs=format_duration(row.keep_logs_s) if row.keep_logs_s else "",
        windows=list(row.windows or []),
    )


def _overlay(spec: JobFields, base: JobFields) -> JobFields:
    """`spec`'s given fields over `base`."""
    return JobFields(
        **{
            f.name: getattr(base, f.name)
            if getattr(spec, f.name) is None
            else getattr(spec, f.name)
            for f in fields(JobFields)
        }
    )


TZ_ALONE = (
    "tz goes with cron: it is the zone the cron expression is read in (an interval "
    "counts elapsed time in no zone)"
)


def _check_tz_edit(spec: JobFields, row: JobRow) -> None:
    """InvalidSchedule when an edit gives a zone that no cron expression would read."""
    if spec.tz is None or spec.cron is not None:
        return
    if spec.every is not None or spec.manual or row.schedule_kind != ScheduleKind.CRON.value:
        raise InvalidSchedule(f"{TZ_ALONE}; job {row.name!r} would have no cron schedule")


def _edited_options(row: JobRow, params: dict[str, Any], spec: JobFields) -> dict[str, Any]:
    """`params` with `spec`'s options removed and added (rclone jobs only): removing
    one the job does not have is refused, naming those it has."""
    if spec.add_options is None and spec.remove_options is None:
        return params
    if (spec.kind or row.kind) != "rclone":
        raise InvalidInput(
            f"Only rclone jobs take rclone options; {row.name!r} is a {row.kind} job"
        )
    options = params.get("options") or []
    if not isinstance(options, list):
        return params  # the engine's validation says what is wrong
    for gone in spec.remove_options or []:
        kept = [o for o in options if not _same_option(o, gone)]
        if len(kept) == len(options):
            has = ", ".join(str(o) for o in options) or "none"
            raise InvalidInput(f"Job {row.name!r} has no option {gone!r}; its options: {has}")
        options = kept
    added = [o for o in spec.add_options or [] if o not in options]
    return {**params, "options": [*options, *dict.fromkeys(added)]}


def _same_option(stored: Any, given: str) -> bool:
    """`given` names `stored`: the same option, or its flag name alone (`--bwlimit`
    for `--bwlimit=10M` or `--bwlimit 10M`)."""
    if not isinstance(stored, str):
        return False
    stored, given = stored.strip(), given.strip()
    return stored == given or re.split(r"[=\s]", stored, maxsplit=1)[0] == given


def with_max_depth(kind: str | None, options: Any, depth: int) -> Any:
    """The options with rclone's --max-depth set to `depth` (-1: removed)."""
    if kind != "rclone":
        raise InvalidInput("Only rclone jobs take a max depth")
    if depth < -1:
        raise InvalidInput(f"Bad max depth {depth}: use 0 or more, or -1 for no limit")
    if not isinstance(options, list):
        options = [] if options is None else options
        if not isinstance(options, list):
            return options  # the engine's validation says what is wrong
    kept = [o for o in options if not (isinstance(o, str) and _MAX_DEPTH.match(o))]
    return kept if depth == -1 else [*kept, f"--max-depth={depth}"]


#: An option setting rclone's --max-depth, in any spelling the allow-list takes.
_MAX_DEPTH = re.compile(r"\s*--max-depth(\s|=|$)")


def with_safety(spec: JobFields, raw: dict[str, Any]) -> None:
    """Put the job's safety settings given in `spec` among its rclone params."""
    if (
        spec.delete_guard is None
        and spec.require_marker is None
        and spec.check_access is None
        and spec.keep_deleted is None
    ):
        return
    if spec.kind != "rclone":
        if not (spec.delete_guard or spec.require_marker or spec.check_access or spec.keep_deleted):
            return  # removing what no job of this kind has changes nothing
        raise InvalidInput(
            "Only rclone jobs take a delete guard, a marker, an access check or kept versions"
        )
    if spec.check_access is not None:
        op = raw.get("op", "sync")
        if op != "bisync":
            raise InvalidInput(
                f"The access check is bisync's (its RCLONE_TEST files); a {op} job has none: "
                "use --require-marker"
            )
        raw["check_access"] = spec.check_access
    if spec.delete_guard == "":
        raw.pop("delete_guard", None)  # the default applies again
    elif spec.delete_guard is not None:
        op = raw.get("op", "sync")
        if op not in GUARDED_OPS:
            raise InvalidInput(
                f"The delete guard applies to sync and bisync jobs; a {op} job deletes "
                "nothing at its destination"
            )
        raw["delete_guard"] = spec.delete_guard
    if spec.require_marker == "":
        raw.pop("require_marker", None)
    elif spec.require_marker is not None:
        raw["require_marker"] = spec.require_marker
    if spec.keep_deleted is not None:
        raw["keep_deleted"] = spec.keep_deleted


def keep_runs_text(row: JobRow) -> str | None:
    """The job's own `keep_runs` as typed ("30d", "500"); None: the settings' rule."""
    if row.keep_runs_s is None and row.keep_runs_count is None:
        return None
    return KeepRuns(age_s=row.keep_runs_s, count=row.keep_runs_count).text()


#: What a user types for "no timeout".
_NO_TIMEOUT = frozenset({"", "none", "off"})


def timeout_seconds(text: str) -> int | None:
    """Seconds of a timeout; None for no timeout ("", "none" or "off")."""
    if text.strip().lower() in _NO_TIMEOUT:
        return None
    return seconds_of(text, "timeout")


def auto_duration(text: str | None, what: str) -> int | None:
    """Seconds of an alert threshold; None for the derived default ("" or "auto")."""
    if text is None or text.strip().lower() in {"", "auto"}:
        return None
    return seconds_of(text, what)


def seconds_of(text: str, what: str) -> int:
    """Seconds in `text`, from 1 s to MAX_DURATION_S; InvalidInput otherwise."""
    seconds = parse_duration(text, what=what)
    if seconds > MAX_DURATION_S:
        raise InvalidInput(f"Bad {what} {text!r}: it must be at most 10 years")
    return seconds


#: The cron field a validation message blames, e.g. "bad minute '61'".
CRON_PART = re.compile(r"\bbad (minute|hour|day-of-month|month|day-of-week)\b")


E = TypeVar("E", OverlapPolicy, MisfirePolicy)


def choice(enum: type[E], value: str | None, what: str) -> E:
    try:
        return enum(value or "")
    except ValueError:
        allowed = "|".join(m.value for m in enum)
        raise InvalidInput(f"Bad {what} {value!r}: use {allowed}") from None
