"""The job form: what a person typed, read into the services' JobFields, and a job
written back into the form. No rule lives here: the services check everything and
their errors name the field at fault, which the form shows beside it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synchub.core.durations import format_duration, parse_duration
from synchub.core.errors import InvalidFields, InvalidInput, Problems
from synchub.services.jobs.fields import DEFAULTS, JobFields
from synchub.services.jobs.job_views import JobView
from synchub.web import hook_rows
from synchub.web.hook_rows import HookRow

#: Text inputs, as the form names them.
TEXTS = (
    "name", "op", "source_remote", "source_path", "destination_remote", "destination_path",
    "schedule", "cron", "tz", "every", "filters", "options", "retries", "retry_delay",
    "timeout", "overlap", "queue", "misfire", "tags", "delete_guard", "require_marker",
    "keep_deleted", "after", "stale_after", "long_after", "keep_runs", "keep_logs", "windows",
)  # fmt: skip
CHECKBOXES = ("watch", "enabled", "check_access")
SCHEDULES = ("none", "cron", "every")

#: Where the form shows an error the services blame on their field of this name;
#: "" is the top of the form (an error about the job as a whole).
_SHOWN_AT = {
    "source": "source_path",
    "destination": "destination_path",
    "max_depth": "options",
    "kind": "",
    "params": "",
    "env": "",
}
_SPLIT = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class JobForm:
    values: dict[str, str]  #: every input, as typed
    kind: str = "rclone"  #: other kinds' parameters are edited with the CLI or the API
    errors: dict[str, list[str]] = field(default_factory=dict)  #: by input; "" the form's
    hooks: tuple[HookRow, ...] = ()  #: one row per hook, as typed

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")

    @property
    def general(self) -> list[str]:
        return self.errors.get("", [])

    @classmethod
    def blank(cls) -> JobForm:
        values = dict.fromkeys(TEXTS, "")
        values.update(
            op="sync",
            schedule="none",
            retries=str(DEFAULTS.retries),
            retry_delay=DEFAULTS.retry_delay or "",
            overlap=DEFAULTS.overlap or "",
            queue=DEFAULTS.queue or "",
            misfire=DEFAULTS.misfire or "",
            enabled="on",
            check_access="on",  # bisync's default
        )
        return cls(values)

    @classmethod
    def of_job(cls, job: JobView, name: str = "") -> JobForm:
        """The form showing `job`, named `name`."""
        params = job.params
        schedule = job.schedule
        source = _split_location(str(params.get("source", "")))
        destination = _split_location(str(params.get("destination", "")))
        values = {
            "name": name,
            "op": str(params.get("op", "sync")),
            "source_remote": source[0],
            "source_path": source[1],
            "destination_remote": destination[0],
            "destination_path": destination[1],
            "schedule": {"cron": "cron", "interval": "every"}.get(schedule.kind, "none"),
            "cron": schedule.cron or "",
            "tz": schedule.tz or "",
            "every": _every(schedule.every_s),
            "filters": "\n".join(params.get("filters") or []),
            "options": "\n".join(params.get("options") or []),
            "retries": str(job.retries),
            "retry_delay": _every(job.retry_delay_s) or "0s",
            "timeout": _every(job.timeout_s),
            "overlap": job.overlap,
            "queue": job.queue,
            "misfire": job.misfire,
            "tags": ", ".join(job.tags),
            "delete_guard": job.delete_guard or "",
            "require_marker": job.require_marker or "",
            "keep_deleted": job.keep_deleted or "",
            # Other ops have none; shown checked, as bisync's default, if one becomes it.
            "check_access": "" if job.check_access is False else "on",
            "watch": "on" if job.watch else "",
            "enabled": "on" if job.enabled else "",
            "after": ", ".join(f"{link.job}:{link.on.value}" for link in job.after),
            "stale_after": _every(job.stale_after_s),
            "long_after": _every(job.long_after_s),
            "keep_runs": job.keep_runs or "",
            "keep_logs": job.keep_logs or "",
            "windows": "\n".join(job.windows or []),
        }
        hooks = tuple(hook_rows.of_view(job.hooks))
        return cls(values, kind=job.kind, hooks=hooks)

    @classmethod
    def posted(cls, fields: dict[str, str], kind: str = "rclone") -> JobForm:
        values = {name: fields.get(name, "") for name in TEXTS}
        values.update({name: "on" if fields.get(name) else "" for name in CHECKBOXES})
        return cls(values, kind=kind, hooks=tuple(hook_rows.posted(fields)))

    @property
    def shown_hooks(self) -> list[HookRow]:
        """The rows a page shows: the job's hooks, then a few blank ones."""
        rows = list(self.hooks)
        spare = len(rows) - len([r for r in rows if not r.blank])  # a post's are kept
        wanted = min(hook_rows.SPARE - spare, hook_rows.MAX_ROWS - len(rows))
        return rows + [HookRow()] * max(0, wanted)

    @property
    def inputs(self) -> list[str]:
        """Every input beside which an error may be shown ("" the form's top)."""
        rows = [hook_rows.name(i, part) for i in range(len(self.hooks))
                for part in hook_rows.PARTS]  # fmt: skip
        return ["", *TEXTS, *CHECKBOXES, "hooks", *rows]

    def with_errors(self, exc: InvalidInput) -> JobForm:
        """This form, showing the errors of `exc` beside their inputs."""
        errors: dict[str, list[str]] = {}
        _hooks, rows_of = self._hooks_given()
        for problem in exc.problems if isinstance(exc, InvalidFields) else (exc,):
            where = shown_at(problem.field)
            if problem.field == "hooks":
                where = hook_rows.row_input(problem.message, rows_of)
            errors.setdefault(where, []).append(problem.message)
        return JobForm(self.values, self.kind, errors, self.hooks)

    def shown(self) -> JobForm:
        """This form as a page may show it: a webhook's URL typed in (it may hold a
        token) is emptied, and its row asks for it again."""
        errors = {k: list(v) for k, v in self.errors.items()}
        rows = list(self.hooks)
        for i, row in enumerate(rows):
            if row.is_url and not row.is_hint:
                rows[i] = HookRow(row.event, "", row.timeout, row.on_error)
                errors.setdefault(hook_rows.name(i, "target"), []).append(hook_rows.RETYPE)
        return JobForm(self.values, self.kind, errors, tuple(rows))

    def _hooks_given(self) -> tuple[dict[str, Any], dict[str, int]]:
        try:
            return hook_rows.given(list(self.hooks))
        except InvalidInput:
            return {}, {}

    def spec(self, current: JobView | None = None) -> tuple[JobFields, Problems]:
        """The JobFields this form gives: everything for a new job, or what changed
        from `current` (the job as it is) for an edit; and the problems of the inputs
        that are not even of their type (a number of retries, a hook that is no
        command), each blamed on its input. Those inputs are left out of the
        JobFields (the default, or as the job has them), so the services can still
        be asked about the rest."""
        problems = Problems()
        retries = None
        with problems.about("retries"):
            retries = _whole(self["retries"], "retries")
        hooks: dict[str, Any] | None = None
        with problems.about("hooks"):
            hooks = _changed_hooks(hook_rows.given(list(self.hooks))[0], current)
        editing = current is not None
        spec = JobFields(
            kind=None if editing else self.kind,
            params=self._params() if self.kind == "rclone" else None,
            **self._schedule(current),
            retries=retries,
            retry_delay=self["retry_delay"].strip(),
            timeout=self["timeout"].strip(),
            overlap=self["overlap"],
            queue=self["queue"].strip(),
            misfire=self["misfire"],
            enabled=bool(self["enabled"]),
            tags=[t for t in _SPLIT.split(self["tags"]) if t],
            watch=bool(self["watch"]),
            delete_guard=_cleared(
                self["delete_guard"], (current.delete_guard or "") if current else None, ""
            ),
            require_marker=_cleared(
                self["require_marker"], (current.require_marker or "") if current else None, ""
            ),
            keep_deleted=_cleared(
                self["keep_deleted"], (current.keep_deleted or "") if current else None, "off"
            ),
            check_access=self._check_access(current),
            stale_after=_changed_duration(
                self["stale_after"], editing, current.stale_after_s if current else None
            ),
            long_after=_changed_duration(
                self["long_after"], editing, current.long_after_s if current else None
            ),
            keep_runs=_cleared(
                self["keep_runs"], (current.keep_runs or "") if current else None, ""
            ),
            keep_logs=_cleared(
                self["keep_logs"], (current.keep_logs or "") if current else None, ""
            ),
            hooks=hooks,
            after=self._after(current),
            windows=self._windows(current),
        )
        return spec, problems

    def _after(self, current: JobView | None) -> list[str] | None:
        """The jobs this one runs after, as the API's texts; None when none is given
        to a new job or an edit keeps its links."""
        given = [t for t in _SPLIT.split(self["after"]) if t]
        if current is None:
            return given or None
        had = sorted(f"{link.job}:{link.on.value}" for link in current.after)
        full = sorted(t if ":" in t else f"{t}:success" for t in given)
        return None if full == had else given

    def _windows(self, current: JobView | None) -> list[str] | None:
        """The run windows, one a line as the API's texts ([] removes them); None when
        none is given to a new job or an edit keeps the job's."""
        given = _lines(self["windows"])
        if current is None:
            return given or None
        return None if given == list(current.windows or []) else given

    def _check_access(self, current: JobView | None) -> bool | None:
        """The box, for a bisync job (only bisync has the check: the box means nothing
        for another op, and is left out); None when an edit leaves it as it is."""
        if self.kind != "rclone" or self["op"] != "bisync":
            return None
        wanted = bool(self["check_access"])
        if current is not None and current.check_access == wanted:
            return None
        return wanted

    def _params(self) -> dict[str, Any]:
        return {
            "op": self["op"],
            "source": _join_location(self["source_remote"], self["source_path"]),
            "destination": _join_location(self["destination_remote"], self["destination_path"]),
            "filters": _lines(self["filters"]),
            "options": _lines(self["options"]),
        }

    def _schedule(self, current: JobView | None) -> dict[str, Any]:
        """The schedule inputs of JobFields: none when an edit keeps the schedule as
        it is (an edited schedule counts again from now)."""
        kind, tz = self["schedule"], self["tz"].strip() or None
        cron, every = self["cron"].strip(), self["every"].strip()
        now = current.schedule if current is not None else None
        if now is not None:
            tz = tz or now.tz  # left blank: the job's zone stays
        # A zone goes with a cron expression only: an interval counts elapsed time.
        given: dict[str, dict[str, Any]] = {
            "cron": {"cron": cron, "tz": tz},
            "every": {"every": every},
        }
        if now is None:
            return given.get(kind, {})
        if kind == "cron":
            same = now.kind == "cron" and now.cron == cron and tz == now.tz
        elif kind == "every":
            same = now.kind == "interval" and _seconds(every) == now.every_s
        else:
            return {} if now.kind == "none" else {"manual": True}
        return {} if same else given[kind]


def shown_at(service_field: str | None) -> str:
    """The input beside which the form shows an error blamed on `service_field`."""
    if service_field is None:
        return ""
    if service_field in _SHOWN_AT:
        return _SHOWN_AT[service_field]
    if service_field.startswith("hook.") or service_field == "hooks":
        return service_field  # a hook's row (see hook_rows), or the hooks as a whole
    return service_field if service_field in TEXTS + CHECKBOXES else ""


def _split_location(text: str) -> tuple[str, str]:
    """("nas", "/photos") for "nas:/photos"; ("", "/mnt/x") for a local path."""
    if not text or text.startswith("/"):
        return "", text
    remote, _, path = text.partition(":")
    return remote, path


def _join_location(remote: str, path: str) -> str:
    return f"{remote}:{path.strip()}" if remote else path.strip()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _every(seconds: int | None) -> str:
    return format_duration(seconds) if seconds else ""


def _changed_duration(text: str, editing: bool, had: int | None) -> str | None:
    """A threshold as typed ("" derives it), or None: a new job's left blank, or an
    edit's as the job has it (`had`, seconds; None: derived)."""
    text = text.strip()
    if not editing:
        return text or None
    same = _seconds(text) == had if text else had is None
    return None if same else text


def _changed_hooks(hooks: dict[str, Any], current: JobView | None) -> dict[str, Any] | None:
    """The hooks given, or None: a new job without any, or an edit that keeps the
    job's (so keeping hooks asks for no right that setting them needs)."""
    if current is None:
        return hooks or None
    return None if hook_rows.same(hooks, current.hooks) else hooks


def _seconds(text: str) -> int | None:
    try:
        return parse_duration(text)
    except InvalidInput:
        return None  # not the same: the services say what is wrong with it


def _whole(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput(f"Bad {what} {text!r}: give a whole number") from None


def _cleared(text: str, had: str | None, clear: str) -> str | None:
    """The value typed when it differs from the job's (`had`, "" for none; None for a
    new job); None keeps it (or leaves the default, for a new job); `clear` when an
    edit empties what the job had."""
    value = text.strip()
    if had is None:
        return value or None
    if value == had:
        return None
    return value or clear
