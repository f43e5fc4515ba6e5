"""The job form: what a person typed, read into the services' JobFields, and a job
written back into the form. No rule lives here: the services check everything and
their errors name the field at fault, which the form shows beside it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from synchub.core.durations import parse_duration
from synchub.core.errors import InvalidFields, InvalidInput, Problems
from synchub.services.jobs.fields import DEFAULTS, JobFields

#: Text inputs, as the form names them.
TEXTS = (
    "name", "op", "source_remote", "source_path", "destination_remote", "destination_path",
    "schedule", "cron", "tz", "every", "filters", "options", "retries", "retry_delay",
    "timeout", "overlap", "queue", "misfire", "tags", "delete_guard", "require_marker",
    "keep_deleted",
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
    def of_job(cls, job: dict[str, Any], name: str = "") -> JobForm:
        """The form showing `job` (a job's view), named `name`."""
        params = job.get("params") or {}
        schedule = job["schedule"]
        source = _split_location(str(params.get("source", "")))
        destination = _split_location(str(params.get("destination", "")))
        values = {
            "name": name,
            "op": str(params.get("op", "sync")),
            "source_remote": source[0],
            "source_path": source[1],
            "destination_remote": destination[0],
            "destination_path": destination[1],
            "schedule": {"cron": "cron", "interval": "every"}.get(schedule["kind"], "none"),
            "cron": schedule.get("cron") or "",
            "tz": schedule.get("tz") or "",
            "every": _every(schedule.get("every_s")),
            "filters": "\n".join(params.get("filters") or []),
            "options": "\n".join(params.get("options") or []),
            "retries": str(job["retries"]),
            "retry_delay": _every(job["retry_delay_s"]) or "0s",
            "timeout": _every(job.get("timeout_s")),
            "overlap": job["overlap"],
            "queue": job["queue"],
            "misfire": job["misfire"],
            "tags": ", ".join(job.get("tags") or []),
            "delete_guard": job.get("delete_guard") or "",
            "require_marker": job.get("require_marker") or "",
            "keep_deleted": job.get("keep_deleted") or "",
            # Other ops have none; shown checked, as bisync's default, if one becomes it.
            "check_access": "" if job.get("check_access") is False else "on",
            "watch": "on" if job.get("watch") else "",
            "enabled": "on" if job.get("enabled") else "",
        }
        return cls(values, kind=job["kind"])

    @classmethod
    def posted(cls, fields: dict[str, str], kind: str = "rclone") -> JobForm:
        values = {name: fields.get(name, "") for name in TEXTS}
        values.update({name: "on" if fields.get(name) else "" for name in CHECKBOXES})
        return cls(values, kind=kind)

    def with_errors(self, exc: InvalidInput) -> JobForm:
        """This form, showing the errors of `exc` beside their inputs."""
        errors: dict[str, list[str]] = {}
        for problem in exc.problems if isinstance(exc, InvalidFields) else (exc,):
            errors.setdefault(shown_at(problem.field), []).append(problem.message)
        return JobForm(self.values, self.kind, errors)

    def fields(self, current: dict[str, Any] | None = None) -> JobFields:
        """The JobFields this form gives: everything for a new job, or what changed
        from `current` (a job's view) for an edit. InvalidInput, blamed on its input,
        for text that is not even of the right type (a number of retries)."""
        problems = Problems()
        retries = None
        with problems.about("retries"):
            retries = _whole(self["retries"], "retries")
        problems.raise_any()
        editing = current is not None
        return JobFields(
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
            delete_guard=_cleared(self["delete_guard"].strip(), current, "delete_guard", ""),
            require_marker=_cleared(self["require_marker"].strip(), current, "require_marker", ""),
            keep_deleted=_cleared(self["keep_deleted"].strip(), current, "keep_deleted", "off"),
            check_access=self._check_access(current),
        )

    def _check_access(self, current: dict[str, Any] | None) -> bool | None:
        """The box, for a bisync job (only bisync has the check: the box means nothing
        for another op, and is left out); None when an edit leaves it as it is."""
        if self.kind != "rclone" or self["op"] != "bisync":
            return None
        wanted = bool(self["check_access"])
        if current is not None and current.get("check_access") == wanted:
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

    def _schedule(self, current: dict[str, Any] | None) -> dict[str, Any]:
        """The schedule inputs of JobFields: none when an edit keeps the schedule as
        it is (an edited schedule counts again from now)."""
        kind, tz = self["schedule"], self["tz"].strip() or None
        cron, every = self["cron"].strip(), self["every"].strip()
        now = current["schedule"] if current is not None else None
        if now is not None:
            tz = tz or now["tz"]  # left blank: the job's zone stays
        # A zone goes with a cron expression only: an interval counts elapsed time.
        given: dict[str, dict[str, Any]] = {
            "cron": {"cron": cron, "tz": tz},
            "every": {"every": every},
        }
        if now is None:
            return given.get(kind, {})
        if kind == "cron":
            same = now["kind"] == "cron" and now["cron"] == cron and tz == now["tz"]
        elif kind == "every":
            same = now["kind"] == "interval" and _seconds(every) == now["every_s"]
        else:
            return {} if now["kind"] == "none" else {"manual": True}
        return {} if same else given[kind]


def shown_at(service_field: str | None) -> str:
    """The input beside which the form shows an error blamed on `service_field`."""
    if service_field is None:
        return ""
    if service_field in _SHOWN_AT:
        return _SHOWN_AT[service_field]
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
    from synchub.core.durations import format_duration

    return format_duration(seconds) if seconds else ""


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


def _cleared(value: str, current: dict[str, Any] | None, key: str, clear: str) -> str | None:
    """`value` when it was typed and differs from the job's; None keeps it (or leaves
    the default, for a new job); `clear` when an edit empties what the job had."""
    if current is None:
        return value or None
    had = current.get(key) or ""
    if value == had:
        return None
    return value or clear
