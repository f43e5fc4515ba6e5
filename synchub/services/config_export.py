"""The configuration file's document, written from the database: remotes, jobs and
alerts as `synchub export` writes them, each secret as a reference."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from synchub.core.durations import format_duration
from synchub.services.config_file import EDIT_ONLY, IN_PARAMS, env_name, reference
from synchub.services.jobs.fields import JobFields
from synchub.services.jobs.job_views import HookView, JobView
from synchub.services.masks import MASK

if TYPE_CHECKING:
    from synchub.services.alerts import AlertView
    from synchub.services.context import Services
    from synchub.services.remote_views import RemoteView


#: The order a job's params are written in; other keys follow, sorted.
_PARAMS_ORDER = ("op", "source", "destination", "filters", "options")


def document(
    svc: Services, sections: Iterable[str], *, keep: bool = False
) -> tuple[dict[str, Any], builtins.list[str]]:
    document: dict[str, Any] = {"version": 1}
    warnings: builtins.list[str] = []
    wanted = set(sections)
    if "remotes" in wanted:
        remotes = sorted(svc.remotes.list(), key=lambda v: v.name)
        document["remotes"] = {v.name: _remote_entry(v, keep, warnings) for v in remotes}
    if "jobs" in wanted:
        jobs = sorted(svc.jobs.list(), key=lambda v: v.name)
        document["jobs"] = {v.name: _job_entry(v, keep) for v in jobs}
    if "alerts" in wanted:
        alerts = sorted(svc.alerts.list(), key=lambda v: v.name)
        document["alerts"] = {v.name: _alert_entry(v, keep) for v in alerts}
    return document, warnings


def _remote_entry(view: RemoteView, keep: bool, warnings: builtins.list[str]) -> dict[str, Any]:
    options = {
        key: reference(env_name(view.name, key), keep=keep) if value == MASK else value
        for key, value in sorted(view.options.items())
    }
    if view.unreadable:
        warnings.append(
            f"remote {view.name}: its secret options cannot be read ({view.unreadable}): "
            "they are not in the file"
        )
    entry: dict[str, Any] = {"type": view.type, "options": options}
    if view.max_concurrency:
        entry["max_concurrency"] = view.max_concurrency
    return entry


#: The job fields a file writes, in JobFields' order.
JOB_KEYS = [f.name for f in fields(JobFields) if f.name not in EDIT_ONLY | IN_PARAMS]


def _job_entry(view: JobView, keep: bool) -> dict[str, Any]:
    """A job's entry: JobFields' keys, each from the job's view under the same name,
    but for those the view shows in another form (the schedule, durations)."""
    schedule = view.schedule
    every = schedule.every_s if schedule.kind == "interval" else None
    shown: dict[str, Any] = {
        "kind": view.kind,
        "params": _params_entry(view.name, view.params, keep),
        "cron": schedule.cron,
        "tz": schedule.tz if schedule.kind == "cron" else None,
        "every": format_duration(every) if every is not None else None,
        "retries": view.retries,
        "retry_delay": format_duration(view.retry_delay_s),
        "timeout": _duration_or_none(view.timeout_s),
        "overlap": view.overlap,
        "queue": view.queue,
        "misfire": view.misfire,
        "enabled": view.enabled,
        "tags": view.tags,
        "watch": view.watch,
        "stale_after": _duration_or_none(view.stale_after_s),
        "long_after": _duration_or_none(view.long_after_s),
        "keep_runs": view.keep_runs,
        "keep_logs": view.keep_logs,
        "hooks": _hooks_entry(view.name, view.hooks, keep),
        "after": [f"{link.job}:{link.on.value}" for link in view.after],
        "windows": view.windows or None,  # none: the file says nothing of them
    }
    entry = {}
    for key in JOB_KEYS:
        value = shown.get(key)
        if value is not None:
            entry[key] = value
    return entry


def _hooks_entry(job: str, hooks: dict[str, builtins.list[HookView]], keep: bool) -> dict[str, Any]:
    """The job's hooks, a webhook's URL (a secret) as a reference to an environment
    variable, as for the job's env values: ${SYNCHUB_SECRET_JOB_<JOB>_HOOK_<EVENT>_<N>}."""
    return {
        event: [
            hook.as_dict()
            | {"url": reference(env_name("job", job, "hook", event, str(i)), keep=keep)}
            if hook.command is None
            else hook.as_dict()
            for i, hook in enumerate(items)
        ]
        for event, items in hooks.items()
    }


def _duration_or_none(seconds: int | None) -> str | None:
    return format_duration(seconds) if seconds else None


def _params_entry(job: str, params: dict[str, Any], keep: bool) -> dict[str, Any]:
    ordered = [k for k in _PARAMS_ORDER if k in params] + sorted(
        k for k in params if k not in _PARAMS_ORDER
    )
    out = {k: params[k] for k in ordered}
    env = out.get("env")
    if isinstance(env, dict):  # sealed values: references, as a remote's secrets
        out["env"] = {
            k: reference(env_name("job", job, k), keep=keep) if v == MASK else v
            for k, v in sorted(env.items())
        }
    return out


def _alert_entry(view: AlertView, keep: bool) -> dict[str, Any]:
    return {
        "url": reference(env_name("alert", view.name, "url"), keep=keep),
        "events": list(view.events),
        "jobs": list(view.jobs),
        "tags": list(view.tags),
        "after": view.after,
        # Only when it differs from the default: files written before digests stay as they were.
        **({"digest_at": view.digest_at} if view.digest_at != "08:00" else {}),
    }
