"""The rules of a job's definition: every field checked, every problem found at once,
and the row written only when all are right (hooks and env values sealed)."""

from __future__ import annotations

import builtins
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from synchub.core.chains import describe_cycle, find_cycle, parse_links
from synchub.core.errors import (
    CommandsDisabled,
    Forbidden,
    InvalidInput,
    InvalidSchedule,
    Problems,
    SecretsUnreadable,
    SynchubError,
    blame,
)
from synchub.core.hooks import Hook, Hooks, parse_hooks, stored, url_hint
from synchub.core.names import check_name
from synchub.core.policies import OverlapPolicy
from synchub.core.retention import parse_keep_logs, parse_keep_runs
from synchub.core.schedules import (
    MisfirePolicy,
    Schedule,
    ScheduleKind,
    cron_schedule,
    interval_schedule,
    local_zone_name,
    next_fire,
    zone,
)
from synchub.engines.base import Engine, starts_programs
from synchub.services.jobs.fields import (
    JobFields,
    auto_duration,
    choice,
    seconds_of,
    timeout_seconds,
    with_max_depth,
    with_safety,
)
from synchub.services.jobs.windows import checked_windows, windows_zone
from synchub.services.masks import MASK
from synchub.services.tokens import Role
from synchub.store import chains as chain_store
from synchub.store import jobs as store
from synchub.store import remotes as remote_store
from synchub.store.jobs import schedule_of
from synchub.store.tables import JobRow

if TYPE_CHECKING:
    from synchub.services.context import Services


class JobRules:
    """Checks a job's fields and writes them into its row."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def apply(
        self,
        session: Session,
        row: JobRow,
        spec: JobFields,
        now: datetime,
        *,
        schedule_changed: bool,
        problems: Problems | None = None,
    ) -> builtins.list[tuple[int, str]] | None:
        """Validate `spec` (complete) and write it into `row`; raise before any change.
        Returns the job's chain links to write, (upstream id, on), None to keep them
        (`spec.after` not given): a new job's row has no id to write them with yet.

        Every input is checked, and every problem found is raised at once (each blamed
        on its field: InvalidFields for several), after those already in `problems`.
        """
        problems = problems or Problems()
        assert spec.kind is not None and spec.retries is not None
        engine = None
        with problems.about("kind"):
            engine = self._engine(spec.kind)
        params: dict[str, Any] | None = None
        if engine is not None:
            params = self._params(session, row, spec, engine, problems)
        schedule = Schedule(kind=ScheduleKind.NONE)
        with problems.about("schedule"):
            schedule = self._schedule(spec, now, row if not schedule_changed else None)
        if spec.watch and schedule.kind is ScheduleKind.NONE:
            # The rescan: it catches what the watcher missed and covers remote sources.
            rescan = self.svc.settings.watch_rescan
            schedule = interval_schedule(rescan, now.replace(microsecond=0))
        with problems.about("retries"):
            if spec.retries < 0 or spec.retries > 100:
                raise InvalidInput("Bad retries: use a number from 0 to 100")
        assert spec.retry_delay is not None and spec.timeout is not None
        retry_delay = timeout = 0
        with problems.about("retry_delay"):
            retry_delay = seconds_of(spec.retry_delay, "retry delay")
        with problems.about("timeout"):
            timeout = timeout_seconds(spec.timeout) or 0
        stale_after = long_after = None
        with problems.about("stale_after"):
            stale_after = auto_duration(spec.stale_after, "--stale-after")
        with problems.about("long_after"):
            long_after = auto_duration(spec.long_after, "--long-after")
        overlap, misfire = OverlapPolicy.SKIP, MisfirePolicy.ONCE
        with problems.about("overlap"):
            overlap = choice(OverlapPolicy, spec.overlap, "overlap policy")
        with problems.about("misfire"):
            misfire = choice(MisfirePolicy, spec.misfire, "misfire policy")
        assert spec.queue is not None and spec.enabled is not None
        with problems.about("queue"):
            check_name(spec.queue, what="queue")
        with problems.about("tags"):
            for tag in spec.tags or []:
                check_name(tag, what="tag")
        hooks: Hooks = {}
        with problems.about("hooks"):
            hooks = self._hooks(spec.hooks, row)
        links = None
        with problems.about("after"):
            links = self._links(session, row.name, spec.after)
        keep_runs, keep_logs = None, None
        with problems.about("keep_runs"):
            keep_runs = parse_keep_runs(spec.keep_runs or "")
        with problems.about("keep_logs"):
            keep_logs = parse_keep_logs(spec.keep_logs or "")
        windows: builtins.list[str] = []
        with problems.about("windows"):
            windows = checked_windows(spec.windows)
        problems.raise_any()
        assert params is not None
        row.kind = spec.kind
        row.params, row.secret_env = self.sealed_env(params)
        row.schedule_kind = schedule.kind.value
        row.cron, row.tz, row.every_s, row.anchor_at = (
            schedule.cron,
            schedule.tz,
            schedule.every_s,
            schedule.anchor,
        )
        row.retries, row.retry_delay_s, row.timeout_s = spec.retries, retry_delay, timeout or None
        row.overlap, row.misfire, row.queue = overlap.value, misfire.value, spec.queue
        row.stale_after_s, row.long_after_s = stale_after, long_after
        was_enabled = row.enabled
        row.enabled, row.tags = spec.enabled, list(spec.tags or [])
        row.watch = bool(spec.watch)
        row.hooks = stored(hooks)
        row.keep_runs_s = keep_runs.age_s if keep_runs else None
        row.keep_runs_count = keep_runs.count if keep_runs else None
        row.keep_logs_s = keep_logs
        row.windows = windows
        row.windows_tz = windows_zone(schedule, self.svc.settings.default_tz) if windows else None
        if schedule_changed or not was_enabled or row.next_fire_at is None:
            # An edited schedule counts from now: no spurious run for a time already past.
            row.next_fire_at = next_fire(schedule, now) if row.enabled else None
        return links

    def _hooks(self, given: dict[str, Any] | None, row: JobRow) -> Hooks:
        """The job's hooks, checked, webhooks' URLs sealed. Command hooks start
        programs: they are set only where command jobs are allowed (CommandsDisabled).
        Any hook is set only by an admin (Forbidden for a token of a lesser role).
        Keeping hooks an admin set is no new setting."""
        _no_sealed(given)
        before = parse_hooks(row.hooks or {})
        hooks = self._sealed_hooks(parse_hooks(given), before)
        if not hooks or stored(hooks) == (row.hooks or {}):
            return hooks
        commands = _commands(hooks)  # new or changed ones: removing them is always fine
        if commands and commands != _commands(before) and not self.svc.settings.allow_command_jobs:
            raise CommandsDisabled(
                "hooks start programs, and command jobs are disabled on this server: "
                "the admin must set SYNCHUB_ALLOW_COMMAND_JOBS=1 (webhooks need not)"
            )
        role = self.svc.role
        if role is not None and not role.allows(Role.ADMIN):
            raise Forbidden(f"Only an admin may set hooks; this token has role {role}")
        return hooks

    def _sealed_hooks(self, hooks: Hooks, before: Hooks) -> Hooks:
        """Webhooks with their URLs sealed. A URL given as the mask or as the hint the
        job shows at the same place keeps the stored one (a view sent back as is)."""
        out: Hooks = {}
        for event, items in hooks.items():
            old = before.get(event, [])
            out[event] = []
            for i, hook in enumerate(items):
                if hook.url is None:
                    out[event].append(hook)
                    continue
                kept = old[i] if i < len(old) and old[i].is_webhook else None
                if kept is not None and hook.url in (MASK, kept.url_hint, self._url_of(kept)):
                    out[event].append(replace(hook, url=None, url_sealed=kept.url_sealed,
                                              url_hint=kept.url_hint))  # fmt: skip
                    continue
                if "…" in hook.url or MASK in hook.url:
                    raise InvalidInput(
                        f"hooks.{event.value}[{i}]: give the webhook's whole URL, not its hint",
                        field="hooks",
                    )
                sealed = self.svc.box.seal({"url": hook.url})
                assert sealed is not None
                out[event].append(replace(hook, url=None, url_sealed=sealed.decode(),
                                          url_hint=url_hint(hook.url)))  # fmt: skip
        return out

    def _url_of(self, hook: Hook) -> str | None:
        """A stored webhook's URL (None when it cannot be opened): a URL given again
        keeps its seal, so an edit that gives it changes nothing."""
        try:
            return self.svc.hook_url(hook.url_sealed) if hook.url_sealed else None
        except SecretsUnreadable:
            return None

    def _links(
        self, session: Session, name: str, given: builtins.list[str] | None
    ) -> builtins.list[tuple[int, str]] | None:
        """The job's chain links as (upstream id, on), checked: each upstream exists,
        and no cycle forms (InvalidInput naming it). None when `given` is None."""
        if given is None:
            return None
        links = parse_links(given)
        found = []
        for link in links:
            upstream = store.get(session, link.upstream)
            if upstream is None:
                raise InvalidInput(f"Bad --after: no job named {link.upstream!r}")
            found.append((upstream.id, link.on.value))
        graph = {**chain_store.graph(session), name: [link.upstream for link in links]}
        cycle = find_cycle(name, graph)
        if cycle is not None:
            raise InvalidInput(
                f"Bad --after: it would make a cycle of jobs, {describe_cycle(cycle)}"
            )
        return found

    def _engine(self, kind: str) -> Engine:
        engine = self.svc.engines.get(kind)
        if engine is None:
            known = ", ".join(sorted(self.svc.engines))
            raise InvalidInput(f"Unknown job kind {kind!r}: known kinds are {known}")
        if starts_programs(engine) and not self.svc.settings.allow_command_jobs:
            raise CommandsDisabled(
                f"{kind} jobs start programs, and command jobs are disabled on this "
                "server: the admin must set SYNCHUB_ALLOW_COMMAND_JOBS=1"
            )
        return engine

    def _params(
        self, session: Session, row: JobRow, spec: JobFields, engine: Engine, problems: Problems
    ) -> dict[str, Any] | None:
        """The kind's parameters checked by its engine, None after a problem (kept in
        `problems`)."""
        raw = dict(spec.params or {})
        found = len(problems.found)
        with problems.about("watch"):
            if spec.watch and spec.kind != "rclone":
                raise InvalidInput("Only rclone jobs can watch a folder")
        with problems.about("max_depth"):
            # -1 removes the limit: on a job of another kind, there is none to remove.
            if spec.max_depth is not None and (spec.kind == "rclone" or spec.max_depth != -1):
                raw["options"] = with_max_depth(spec.kind, raw.get("options"), spec.max_depth)
        with problems.about("env"):
            if isinstance(raw.get("env"), dict):
                raw["env"] = self._unmasked_env(row, raw["env"])
        with problems.about("delete_guard"):
            with_safety(spec, raw)
        if len(problems.found) > found:
            return None
        with problems.about("params"):
            return engine.validate(raw, remote_store.names(session))
        return None

    def _schedule(self, spec: JobFields, now: datetime, keep: JobRow | None) -> Schedule:
        if spec.cron is not None and spec.every is not None:
            raise InvalidSchedule("Give either a cron expression or an interval, not both")
        if keep is not None:
            return schedule_of(keep)
        tz = spec.tz or self.svc.settings.default_tz or local_zone_name()
        with blame("tz"):
            zone(tz)
        if spec.cron is not None:
            with blame("cron"):
                return cron_schedule(spec.cron, tz)
        if spec.every is not None:
            # Whole seconds: "every 5s" fires on :00, :05 ... of the clock, not at odd microseconds.
            anchor = now.replace(microsecond=0)
            with blame("every"):
                return interval_schedule(seconds_of(spec.every, "interval"), anchor)
        return Schedule(kind=ScheduleKind.NONE, tz=tz)

    def env_values(self, row: JobRow) -> dict[str, Any] | None:
        """A command job's environment, values in the clear ({} without one); None
        when they cannot be read (then an edit that gives them counts as a change)."""
        env = dict((row.params or {}).get("env") or {})
        if row.secret_env is None:
            return env
        try:
            return {**env, **self.svc.box.open(row.secret_env)}
        except SynchubError:
            return None

    def _unmasked_env(self, row: JobRow, env: dict[str, Any]) -> dict[str, Any]:
        """`env` with each masked value replaced by the value stored under its name (as
        the mask read back from `show` keeps a remote's secret); InvalidInput for a mask
        under a name that has none."""
        # Jobs stored before revision 0007 keep their values in params.
        stored: dict[str, Any] = dict((row.params or {}).get("env") or {})
        if MASK in env.values():  # new values need no key: they replace unreadable ones
            what = f"The env values of job {row.name!r} (give them all again to replace them)"
            stored.update(self.svc.box.open(row.secret_env, what=what))
        unmasked = {}
        for name, value in env.items():
            if value == MASK:
                if stored.get(name, MASK) == MASK:
                    raise InvalidInput(
                        f"env {name}: {MASK} stands for a stored value, and none is stored"
                    )
                value = stored[name]
            unmasked[name] = value
        return unmasked

    def sealed_env(self, params: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
        """The params to store, whose `env` keeps only the names (masked values), and
        the values sealed with the secret key: they may be credentials."""
        env = params.get("env")
        if not env:
            return params, None
        return {**params, "env": dict.fromkeys(env, MASK)}, self.svc.box.seal(env)


def _no_sealed(given: Any) -> None:
    """A sealed URL is the store's form, never input: a webhook is given its URL."""
    if not isinstance(given, dict):
        return
    for event, items in given.items():
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and {"url_sealed", "url_hint"} & item.keys():
                raise InvalidInput(f"hooks.{event}[{i}]: give url, the webhook's URL",
                                   field="hooks")  # fmt: skip


def _commands(hooks: Hooks) -> list[Hook]:
    return [h for items in hooks.values() for h in items if not h.is_webhook]
