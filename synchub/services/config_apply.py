"""Configuration as code: export the remotes, jobs and alerts as one file, and apply a
file: every change it calls for, made by the same services as `remote add`, `job add`
and `alert add`, in one database transaction, or none at all.

Applying a file:

1. Read it (config_file.load): malformed YAML, unknown keys and wrong types are
   refused, each naming its line. References to environment variables are resolved.
2. In one transaction, compare with what is stored and make each change through the
   services (each in a savepoint, so that every problem is found, not the first
   alone). A change that needs another first (a job on a remote the file adds) is
   tried again once the others are made.
3. Any problem: roll back everything and raise ConfigInvalid naming each one's line.
   A dry run rolls back too, and returns the plan. Otherwise commit: the audit
   events written meanwhile carry the file's sha256 (`config_sha256`), and one
   `config.apply` event sums it up.
"""

from __future__ import annotations

import builtins
import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from synchub.core.durations import format_duration, parse_duration
from synchub.core.errors import InvalidFields, InvalidInput, SynchubError
from synchub.core.schedules import local_zone_name
from synchub.engines import rclone_backends
from synchub.services.alerts import AlertFields
from synchub.services.config_file import (
    EDIT_ONLY,
    IN_PARAMS,
    KEEP,
    SECTIONS,
    ConfigInvalid,
    FileProblem,
    Loaded,
    dump,
    env_name,
    load,
    reference,
    reference_name,
    resolve,
)
from synchub.services.jobs import DEFAULTS, JobFields
from synchub.services.remotes import MASK
from synchub.store import audit
from synchub.store.db import one_transaction, transaction

if TYPE_CHECKING:
    from synchub.services.context import Services

#: The order a job's params are written in; other keys follow, sorted.
_PARAMS_ORDER = ("op", "source", "destination", "filters", "options")


@dataclass(frozen=True)
class FieldChange:
    field: str  #: e.g. cron, options.host, params.source
    before: Any  #: as the file writes it (secrets as references); None: not there
    after: Any


@dataclass(frozen=True)
class PlanStep:
    action: str  #: create, change or remove
    kind: str  #: remote, job or alert
    name: str
    changes: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class Applied:
    """What an apply did (or, a dry run, would do)."""

    sha256: str  #: of the file's text, as the audit events name it
    dry_run: bool
    plan: list[PlanStep]  #: empty: the database already matches the file

    @property
    def changed(self) -> bool:
        return bool(self.plan) and not self.dry_run

    def as_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "plan": [
                {
                    "action": s.action,
                    "kind": s.kind,
                    "name": s.name,
                    "changes": [
                        {"field": c.field, "before": c.before, "after": c.after} for c in s.changes
                    ],
                }
                for s in self.plan
            ],
        }


@dataclass(frozen=True)
class Exported:
    text: str
    warnings: list[str]  #: what could not be written (secrets this key cannot read)


class ConfigService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def export(self, sections: Iterable[str] = SECTIONS, *, keep: bool = False) -> Exported:
        """The configuration as a file (config_file's format), `sections` only. Every
        secret is written as a reference to an environment variable named by
        config_file.env_name; `keep`: as ${NAME:-keep}, which keeps the stored value
        where the variable is not set."""
        wanted = [s for s in SECTIONS if s in set(sections)]
        document, warnings = _document(self.svc, wanted, keep=keep)
        return Exported(dump(document), warnings)

    def apply(
        self,
        text: str,
        *,
        dry_run: bool = False,
        prune: bool = False,
        source: str = "-",
        environ: dict[str, str] | None = None,
    ) -> Applied:
        """Make the database match the file in `text` (see the module's docstring).
        `prune`: remove the objects the file's sections do not name (a section left out
        is left alone). `environ` (default: this process's) resolves references.
        ConfigInvalid, naming each problem's line, when anything is wrong: then nothing
        changes. `source` names the file in the audit log."""
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        loaded = load(text)
        env = dict(os.environ) if environ is None else environ
        sections = [s for s in SECTIONS if getattr(loaded.config, s) is not None]
        with one_transaction(self.svc.sessions) as tx:
            inner = self.svc.for_actor(self.svc.actor, self.svc.role)
            inner.sessions = tx.sessions
            inner.on_change = lambda: None  # this one's scheduler is told once, at the end
            with audit.noting({"config_sha256": digest}):
                before, _ = _document(inner, sections)
                planner = _Planner(inner, loaded, env, prune)
                secrets = planner.run()
                after, _ = _document(inner, sections)
            plan = _plan(before, after, secrets)
            if plan and not dry_run:
                self._record(tx.sessions, source, digest, plan)
                tx.commit()
        if plan and not dry_run:
            self.svc.on_change()
        return Applied(digest, dry_run, plan)

    def _record(self, sessions: Any, source: str, digest: str, plan: list[PlanStep]) -> None:
        counts = {a: sum(s.action == a for s in plan) for a in ("create", "change", "remove")}
        with transaction(sessions) as session:
            audit.record(
                session,
                at=self.svc.clock.now(),
                actor=self.svc.actor,
                action="config.apply",
                target_type="config",
                target=source[:200],
                after={"config_sha256": digest, **counts},
            )


# -- the file's document from the database --------------------------------------------


def _document(
    svc: Services, sections: Iterable[str], *, keep: bool = False
) -> tuple[dict[str, Any], builtins.list[str]]:
    document: dict[str, Any] = {"version": 1}
    warnings: builtins.list[str] = []
    wanted = set(sections)
    if "remotes" in wanted:
        remotes = sorted(svc.remotes.list(), key=lambda v: v.name)
        document["remotes"] = {v.name: _remote_entry(v, keep, warnings) for v in remotes}
    if "jobs" in wanted:
        jobs = sorted(svc.jobs.list(), key=lambda v: str(v["name"]))
        document["jobs"] = {v["name"]: _job_entry(v, keep) for v in jobs}
    if "alerts" in wanted:
        alerts = sorted(svc.alerts.list(), key=lambda v: str(v["name"]))
        document["alerts"] = {v["name"]: _alert_entry(v, keep) for v in alerts}
    return document, warnings


def _remote_entry(view: Any, keep: bool, warnings: builtins.list[str]) -> dict[str, Any]:
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
_JOB_KEYS = [f.name for f in fields(JobFields) if f.name not in EDIT_ONLY | IN_PARAMS]


def _job_entry(view: dict[str, Any], keep: bool) -> dict[str, Any]:
    """A job's entry: JobFields' keys, each from the job's view under the same name,
    but for those the view shows in another form (the schedule, durations)."""
    schedule = view["schedule"]
    kind = schedule["kind"]
    shown: dict[str, Any] = {
        "params": _params_entry(view["name"], view["params"], keep),
        "cron": schedule["cron"],
        "tz": schedule["tz"] if kind == "cron" else None,
        "every": format_duration(schedule["every_s"]) if kind == "interval" else None,
        "retry_delay": format_duration(view["retry_delay_s"]),
        "timeout": format_duration(view["timeout_s"]) if view["timeout_s"] else None,
        "stale_after": _duration_or_none(view.get("stale_after_s")),
        "long_after": _duration_or_none(view.get("long_after_s")),
        "after": [f"{link['job']}:{link['on']}" for link in view.get("after", [])],
        "hooks": _hooks_entry(view["name"], view.get("hooks") or {}, keep),
        "windows": view.get("windows") or None,  # none: the file says nothing of them
    }
    entry = {}
    for key in _JOB_KEYS:
        value = shown[key] if key in shown else view.get(key)
        if value is not None:
            entry[key] = value
    return entry


def _hooks_entry(job: str, hooks: dict[str, Any], keep: bool) -> dict[str, Any]:
    """The job's hooks, a webhook's URL (a secret) as a reference to an environment
    variable, as for the job's env values: ${SYNCHUB_SECRET_JOB_<JOB>_HOOK_<EVENT>_<N>}."""
    return {
        event: [
            {**hook, "url": reference(env_name("job", job, "hook", event, str(i)), keep=keep)}
            if "url" in hook
            else hook
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


def _alert_entry(view: dict[str, Any], keep: bool) -> dict[str, Any]:
    return {
        "url": reference(env_name("alert", view["name"], "url"), keep=keep),
        "events": list(view["events"]),
        "jobs": list(view["jobs"]),
        "tags": list(view["tags"]),
        "after": view["after"],
        # Only when it differs from the default: files written before digests stay as they were.
        **({"digest_at": view["digest_at"]} if view["digest_at"] != "08:00" else {}),
    }


# -- the plan -------------------------------------------------------------------------


_KIND_OF = {"remotes": "remote", "jobs": "job", "alerts": "alert"}


def _plan(
    before: dict[str, Any], after: dict[str, Any], secrets: dict[tuple[str, str], list[str]]
) -> list[PlanStep]:
    """What changed between two documents, object by object and field by field; each
    secret that changed unseen (the references are the same) as `(secret)`."""
    plan: list[PlanStep] = []
    for section in SECTIONS:
        old, new = before.get(section) or {}, after.get(section) or {}
        kind = _KIND_OF[section]
        for name in sorted(old.keys() | new.keys()):
            if name not in old:
                changes = [FieldChange(k, None, v) for k, v in _flat(new[name]).items()]
                plan.append(PlanStep("create", kind, name, changes))
            elif name not in new:
                plan.append(PlanStep("remove", kind, name))
            else:
                a, b = _flat(old[name]), _flat(new[name])
                changes = [
                    FieldChange(k, a.get(k), b.get(k))
                    for k in sorted(a.keys() | b.keys())
                    if a.get(k) != b.get(k)
                ]
                seen = {c.field for c in changes}
                changes += [
                    FieldChange(f, "(secret)", "(secret, changed)")
                    for f in secrets.get((kind, name), [])
                    if f not in seen
                ]
                if changes:
                    plan.append(PlanStep("change", kind, name, changes))
    return plan


def _flat(entry: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in entry.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# -- making the changes ------------------------------------------------------------------


@dataclass
class _Step:
    section: str
    name: str
    run: Callable[[], list[str]]  #: the secrets it changed unseen (fields)
    problem: SynchubError | None = None


class _Planner:
    """The changes a file calls for, as steps made through the services."""

    def __init__(self, svc: Services, loaded: Loaded, env: dict[str, str], prune: bool) -> None:
        self.svc = svc
        self.loaded = loaded
        self.env = env
        self.prune = prune
        self.problems: list[InvalidInput] = []

    def run(self) -> dict[tuple[str, str], list[str]]:
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
        secrets = _settle([*steps, *reversed(removals)])
        for step in [*steps, *removals]:
            if step.problem is not None:
                self.problems.extend(self._located(step, step.problem))
        if self.problems:
            raise ConfigInvalid(sorted(self.problems, key=_line_key))
        return secrets

    # remotes ----------------------------------------------------------------------

    def _remotes(self, entries: dict[str, Any], steps: list[_Step], removals: list[_Step]) -> None:
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
        self, name: str, entry: Any, options: dict[str, str]
    ) -> Callable[[], list[str]]:
        def run() -> list[str]:
            _no_keep(options, f"remote {name!r}")
            self.svc.remotes.add(name, entry.type, options, max_concurrency=entry.max_concurrency)
            return []

        return run

    def _change_remote(
        self, name: str, entry: Any, options: dict[str, str]
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

    def _jobs(self, entries: dict[str, Any], steps: list[_Step], removals: list[_Step]) -> None:
        current = {str(v["name"]): v for v in self.svc.jobs.list()}
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

    def _job_edit(self, given: dict[str, Any], view: dict[str, Any]) -> JobFields:
        """The edit that makes a job what the file says: each known field left out takes
        its default, params are replaced whole, and the schedule is given only when it
        differs (a schedule given again would count from now)."""
        defaults = {f.name: getattr(DEFAULTS, f.name) for f in fields(JobFields)}
        defaults.update(timeout="", params={})
        values: dict[str, Any] = {
            k: given.get(k, defaults[k] if k in _JOB_KEYS else None)
            for k in (f.name for f in fields(JobFields))
            if k not in EDIT_ONLY
        }
        cron, every, tz = given.get("cron"), given.get("every"), given.get("tz")
        if cron is not None:
            tz = tz or self.svc.settings.default_tz or local_zone_name()
        values.update(cron=cron, every=every, tz=tz)
        if _same_schedule(view["schedule"], cron, every, tz):
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

    def _alerts(self, entries: dict[str, Any], steps: list[_Step], removals: list[_Step]) -> None:
        current = {str(v["name"]) for v in self.svc.alerts.list()}
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


def _settle(steps: list[_Step]) -> dict[tuple[str, str], list[str]]:
    """Run each step once, then again those that failed while another got through
    (it may have waited for it: a job on a remote added later in the list). Each
    step's problem, if it still has one, is left on it."""
    secrets: dict[tuple[str, str], list[str]] = {}
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
                secrets[(_KIND_OF[step.section], step.name)] = changed
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
    schedule: dict[str, Any], cron: str | None, every: str | None, tz: str | None
) -> bool:
    kind = schedule["kind"]
    if cron is not None:
        return every is None and kind == "cron" and (schedule["cron"], schedule["tz"]) == (cron, tz)
    if every is not None:
        try:
            seconds = parse_duration(every, what="interval")
        except InvalidInput:
            return False
        return tz is None and kind == "interval" and schedule["every_s"] == seconds
    return tz is None and kind == "none"


def _line_key(problem: InvalidInput) -> int:
    line = getattr(problem, "line", None)
    return line if isinstance(line, int) else 0
