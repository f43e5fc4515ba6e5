"""The changes a configuration file calls for, made through the services: each in
turn, those that wait for another tried again, every problem found at its line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from synchub.core.durations import parse_duration
from synchub.core.errors import InvalidFields, InvalidInput, SynchubError
from synchub.core.schedules import local_zone_name
from synchub.engines.rclone import backends as rclone_backends
from synchub.services.alerts import AlertFields
from synchub.services.config_export import JOB_KEYS
from synchub.services.config_file import (
    EDIT_ONLY,
    KEEP,
    AlertEntry,
    ConfigInvalid,
    FileProblem,
    Loaded,
    RemoteEntry,
    reference_name,
    resolve,
)
from synchub.services.jobs.fields import DEFAULTS, JobFields
from synchub.services.jobs.job_views import JobView, ScheduleView
from synchub.services.masks import MASK

if TYPE_CHECKING:
    from synchub.services.context import Services


Kind = Literal["remote", "job", "alert"]
#: A section of the file -> the kind of object it holds.
KIND_OF: dict[str, Kind] = {"remotes": "remote", "jobs": "job", "alerts": "alert"}


@dataclass
class _Step:
    section: str
    name: str
    run: Callable[[], list[str]]  #: the secrets it changed unseen (fields)
    problem: SynchubError | None = None


class Planner:
    """The changes a file calls for, as steps made through the services."""

    def __init__(self, svc: Services, loaded: Loaded, env: dict[str, str], prune: bool) -> None:
        self.svc = svc
        self.loaded = loaded
        self.env = env
        self.prune = prune
        self.problems: list[InvalidInput] = []

    def run(self) -> dict[tuple[Kind, str], list[str]]:
        """Make every change; ConfigInvalid (after rolling back nothing: the caller's
        transaction is left for it to drop) for any problem."""
        config = self.loaded.config
        steps: list[_Step] = []
        removals: list[_Step] = []
        if config.remotes is not None:
            self._remotes(config.remotes, steps, removals)
        if config.jobs is not None:
            self._jobs(config.jobs, steps, removals)
        if config.alerts is not None:
            self._alerts(config.alerts, steps, removals)
        if self.problems:  # unresolved references: the file alone is at fault
            raise ConfigInvalid(self.problems)
        secrets = settle([*steps, *reversed(removals)])
        for step in [*steps, *removals]:
            if step.problem is not None:
                self.problems.extend(self._located(step, step.problem))
        if self.problems:
            raise ConfigInvalid(sorted(self.problems, key=line_key))
        return secrets

    # remotes ----------------------------------------------------------------------

    def _remotes(
        self, entries: dict[str, RemoteEntry], steps: list[_Step], removals: list[_Step]
    ) -> None:
        current = {v.name: v for v in self.svc.remotes.list()}
        for name, entry in entries.items():
            options = {
                k: self._secret(v, "remotes", name, "options", k) for k, v in entry.options.items()
            }
            if name in current:
                steps.append(_Step("remotes", name, self._change_remote(name, entry, options)))
            else:
                steps.append(_Step("remotes", name, self._add_remote(name, entry, options)))
        if self.prune:
            for name in sorted(current.keys() - entries.keys()):
                removals.append(_Step("remotes", name, self._remove(self.svc.remotes.remove, name)))

    def _add_remote(
        self, name: str, entry: RemoteEntry, options: dict[str, str]
    ) -> Callable[[], list[str]]:
        def run() -> list[str]:
            _no_keep(options, f"remote {name!r}")
            self.svc.remotes.add(name, entry.type, options, max_concurrency=entry.max_concurrency)
            return []

        return run

    def _change_remote(
        self, name: str, entry: RemoteEntry, options: dict[str, str]
    ) -> Callable[[], list[str]]:
        def run() -> list[str]:
            view = self.svc.remotes.show(name)
            if view.type != entry.type:
                raise InvalidInput(
                    f"remote {name!r} is a {view.type} remote: a remote's type cannot change "
                    "(remove it first, or give the new one another name)",
                    field="type",
                )
            given: dict[str, str | None] = {k: None for k in view.options if k not in options}
            given.update(options)
            edited = self.svc.remotes.change(
                name, given, max_concurrency=entry.max_concurrency or 0
            )
            secret = rclone_backends.secret_options(view.type)
            return [f"options.{k}" for k in edited.changed if k in secret]

        return run

    # jobs -------------------------------------------------------------------------

    def _jobs(
        self, entries: dict[str, BaseModel], steps: list[_Step], removals: list[_Step]
    ) -> None:
        current = {v.name: v for v in self.svc.jobs.list()}
        for name, entry in entries.items():
            given = self._job_values(name, entry)
            if name in current:
                spec = self._job_edit(given, current[name])
                steps.append(_Step("jobs", name, self._change_job(name, spec)))
            else:
                steps.append(_Step("jobs", name, self._add_job(name, JobFields(**given))))
        if self.prune:
            for name in sorted(current.keys() - entries.keys()):
                removals.append(_Step("jobs", name, self._remove(self._remove_job, name)))

    def _job_values(self, name: str, entry: BaseModel) -> dict[str, Any]:
        """The JobFields the entry gives, as JobFields takes them."""
        given = {k: getattr(entry, k) for k in entry.model_fields_set}
        for key in ("every", "retry_delay", "timeout"):
            if isinstance(given.get(key), int):
                given[key] = f"{given[key]}s"
        if isinstance(given.get("delete_guard"), int):
            given["delete_guard"] = str(given["delete_guard"])
        params = given.get("params")
        if isinstance(params, dict) and isinstance(params.get("env"), dict):
            env = {
                k: self._secret(v, "jobs", name, "params", "env", k) if isinstance(v, str) else v
                for k, v in params["env"].items()
            }
            given["params"] = {**params, "env": env}
        if isinstance(given.get("hooks"), dict):
            given["hooks"] = self._hooks_values(name, given["hooks"])
        return given

    def _hooks_values(self, name: str, hooks: dict[str, Any]) -> dict[str, Any]:
        """Hooks with webhooks' URL references resolved (the mask for a kept one)."""
        return {
            event: [
                {**h, "url": self._secret(h["url"], "jobs", name, "hooks", event, str(i), "url")}
                if isinstance(h, dict) and isinstance(h.get("url"), str)
                else h
                for i, h in enumerate(items)
            ]
            if isinstance(items, list)
            else items
            for event, items in hooks.items()
        }

    def _job_edit(self, given: dict[str, Any], view: JobView) -> JobFields:
        """The edit that makes a job what the file says: each known field left out takes
        its default, params are replaced whole, and the schedule is given only when it
        differs (a schedule given again would count from now)."""
        defaults = {f.name: getattr(DEFAULTS, f.name) for f in fields(JobFields)}
        defaults.update(timeout="", params={})
        values: dict[str, Any] = {
            k: given.get(k, defaults[k] if k in JOB_KEYS else None)
            for k in (f.name for f in fields(JobFields))
            if k not in EDIT_ONLY
        }
        cron, every, tz = given.get("cron"), given.get("every"), given.get("tz")
        if cron is not None:
            tz = tz or self.svc.settings.default_tz or local_zone_name()
        values.update(cron=cron, every=every, tz=tz)
        if _same_schedule(view.schedule, cron, every, tz):
            values.update(cron=None, every=None, tz=None)
        elif cron is None and every is None and tz is None:
            values["manual"] = True
        return replace(JobFields(**values), replace_params=True)

    def _add_job(self, name: str, spec: JobFields) -> Callable[[], list[str]]:
        def run() -> list[str]:
            self.svc.jobs.add(name, spec)
            return []

        return run

    def _change_job(self, name: str, spec: JobFields) -> Callable[[], list[str]]:
        def run() -> list[str]:
            edited = self.svc.jobs.change(name, spec)
            # Secrets that may change unseen: env values, webhooks' URLs.
            return [f for f in ("params.env", "hooks") if f in edited.changed]

        return run

    def _remove_job(self, name: str) -> None:
        # History stays readable: a file forgetting a job is no reason to lose its runs.
        self.svc.jobs.remove(name, keep_history=True)

    # alerts -----------------------------------------------------------------------

    def _alerts(
        self, entries: dict[str, AlertEntry], steps: list[_Step], removals: list[_Step]
    ) -> None:
        current = {v.name for v in self.svc.alerts.list()}
        for name, entry in entries.items():
            url = self._secret(entry.url, "alerts", name, "url")
            spec = AlertFields(
                url, entry.events, entry.jobs, entry.tags, entry.after, entry.digest_at
            )
            steps.append(_Step("alerts", name, self._put_alert(name, spec, name in current)))
        if self.prune:
            for name in sorted(current - entries.keys()):
                removals.append(_Step("alerts", name, self._remove(self.svc.alerts.remove, name)))

    def _put_alert(self, name: str, spec: AlertFields, exists: bool) -> Callable[[], list[str]]:
        def run() -> list[str]:
            if not exists:
                _no_keep({"url": spec.url}, f"alert {name!r}")
                self.svc.alerts.add(name, spec)
                return []
            changed = self.svc.alerts.change(name, spec)
            return ["url"] if "url" in changed else []

        return run

    # shared -----------------------------------------------------------------------

    @staticmethod
    def _remove(remove: Callable[[str], Any], name: str) -> Callable[[], list[str]]:
        def run() -> list[str]:
            remove(name)
            return []

        return run

    def _secret(self, value: str, *path: str) -> str:
        """`value` with a reference resolved; the mask for ${NAME:-keep} without NAME
        (the services keep the stored value for it). An unset variable is a problem."""
        resolved = resolve(value, self.env)
        if resolved is KEEP:
            return MASK
        if resolved is None:
            name = reference_name(value)
            self.problems.append(
                self.loaded.problem(
                    f"the environment variable {name} is not set (write ${{{name}:-keep}} "
                    "to keep the stored value when it is not)",
                    *path,
                )
            )
            return MASK
        assert isinstance(resolved, str)
        return resolved

    def _located(self, step: _Step, exc: SynchubError) -> list[InvalidInput]:
        """`exc` (each of its problems) as problems of the file, at the lines of the
        fields they name, or of the object's name."""
        found = exc.problems if isinstance(exc, InvalidFields) else (exc,)
        out: list[InvalidInput] = []
        for problem in found:
            where = getattr(problem, "field", None)
            path = self._path(step, where)
            line = self.loaded.line_of(*path)
            out.append(FileProblem(problem.message, line=line, where=".".join(path)))
        return out

    def _path(self, step: _Step, where: str | None) -> tuple[str, ...]:
        base = (step.section, step.name)
        if not where:
            return base
        parts = tuple(where.split("."))
        for candidate in ((*base, *parts), (*base, "params", *parts)):
            if candidate in self.loaded.lines:
                return candidate
        return (*base, *parts)


def settle(steps: list[_Step]) -> dict[tuple[Kind, str], list[str]]:
    """Run each step once, then again those that failed while another got through
    (it may have waited for it: a job on a remote added later in the list). Each
    step's problem, if it still has one, is left on it."""
    secrets: dict[tuple[Kind, str], list[str]] = {}
    pending = steps
    while pending:
        failed = []
        for step in pending:
            try:
                changed = step.run()
            except SynchubError as exc:
                step.problem = exc
                failed.append(step)
                continue
            step.problem = None
            if changed:
                secrets[(KIND_OF[step.section], step.name)] = changed
        if len(failed) == len(pending):
            break
        pending = failed
    return secrets


def _no_keep(values: dict[str, str], what: str) -> None:
    keeps = [k for k, v in values.items() if v == MASK]
    if keeps:
        raise InvalidInput(
            f"{what} is new: there is no stored {keeps[0]} to keep, set its variable",
            field=f"options.{keeps[0]}" if what.startswith("remote") else keeps[0],
        )


def _same_schedule(
    schedule: ScheduleView, cron: str | None, every: str | None, tz: str | None
) -> bool:
    kind = schedule.kind
    if cron is not None:
        return every is None and kind == "cron" and (schedule.cron, schedule.tz) == (cron, tz)
    if every is not None:
        try:
            seconds = parse_duration(every, what="interval")
        except InvalidInput:
            return False
        return tz is None and kind == "interval" and schedule.every_s == seconds
    return tz is None and kind == "none"


def line_key(problem: InvalidInput) -> int:
    line = getattr(problem, "line", None)
    return line if isinstance(line, int) else 0
