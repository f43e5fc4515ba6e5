"""Jobs: define, edit, enable, remove, and ask when they fire next."""

from __future__ import annotations

import builtins
import re
from collections.abc import Collection
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session, object_session

from synchub.core.chains import describe_cycle, find_cycle, parse_links
from synchub.core.durations import format_duration, parse_duration
from synchub.core.errors import (
    AlreadyExists,
    CommandsDisabled,
    Conflict,
    InvalidInput,
    InvalidSchedule,
    JobNotFound,
    JobRunning,
    Problems,
    SecretsUnreadable,
    SynchubError,
    blame,
)
from synchub.core.hooks import Hook, Hooks, parse_hooks, shown, stored, url_hint
from synchub.core.names import check_name
from synchub.core.policies import OverlapPolicy
from synchub.core.retention import KeepRuns, parse_keep_logs, parse_keep_runs
from synchub.core.runs import CancelReason
from synchub.core.safety import DEFAULT_DELETE_GUARD, GUARDED_OPS
from synchub.core.schedules import (
    MisfirePolicy,
    Schedule,
    ScheduleKind,
    cron_schedule,
    describe,
    in_own_zone,
    interval_schedule,
    local_zone_name,
    next_fire,
    next_fires,
    zone,
)
from synchub.engines.base import Engine, starts_programs
from synchub.scheduler.watch import folder_problem, local_folder, max_depth
from synchub.services.job_windows import checked_windows, windows_view, windows_zone
from synchub.services.remotes import MASK
from synchub.services.runs import check_instant
from synchub.services.tokens import Forbidden, Role
from synchub.store import audit
from synchub.store import chains as chain_store
from synchub.store import jobs as store
from synchub.store import remotes as remote_store
from synchub.store import runs as run_store
from synchub.store import windows as window_store
from synchub.store.db import reading, transaction
from synchub.store.tables import JobRow

if TYPE_CHECKING:
    from synchub.services.context import Services


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


@dataclass(frozen=True)
class Edited:
    """What an edit did: the job as it is now, and the fields whose value changed
    (`params` keys as `params.KEY`); none when the edit changed nothing."""

    view: dict[str, Any]
    changed: list[str]


class _Unchanged(Exception):
    """Raised inside an edit's transaction to roll back an edit that changes nothing."""


#: View keys that follow from the definition rather than being part of it: an edit
#: that changes only these (a schedule given again, counted from now) changes nothing.
#: max_depth, delete_guard and require_marker are read from `params`, where a change
#: to them shows.
_DERIVED = frozenset(
    {
        "updated_at", "next_fire_at", "watch_problem", "max_depth", "delete_guard",
        "require_marker", "chained_by",
    }
)  # fmt: skip


class JobChained(Conflict):
    """Other jobs run after this one."""


@dataclass(frozen=True)
class JobBrief:
    id: int
    name: str
    scheduled: bool  #: it has a cron or interval schedule
    next_fire_at: str | None  #: ISO 8601


class JobService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def add(self, name: str, spec: JobFields) -> dict[str, Any]:
        problems = Problems()
        with problems.about("name"):
            check_name(name, what="job")
        with problems.about("tz"):
            if spec.tz is not None and spec.cron is None:
                raise InvalidSchedule(_TZ_ALONE)
        merged = _new_fields(spec)
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            if store.get(session, name) is not None:
                raise AlreadyExists(f"A job named {name!r} already exists")
            row = JobRow(name=name, created_at=now, updated_at=now)
            links = self._apply(session, row, merged, now, schedule_changed=True, problems=problems)
            session.add(row)
            session.flush()
            store.set_remotes(session, row.id, self._remotes_used(row))
            chain_store.set_links(session, row.id, links or [])
            view = self._view(row, now)
            audit.record(
                session,
                at=now,
                actor=self.svc.actor,
                action="job.add",
                target_type="job",
                target=name,
                after=view,
            )
        self.svc.on_change()
        return view

    def edit(self, name: str, spec: JobFields) -> dict[str, Any]:
        """Change what `spec` gives (see `change`); the job as it is now."""
        return self.change(name, spec).view

    def change(self, name: str, spec: JobFields) -> Edited:
        """Change what `spec` gives, the rest stays; a new schedule counts from now.
        An edit that changes nothing writes nothing: no audit event, no new
        `updated_at`, and a schedule given again keeps its next fire time."""
        now = self.svc.clock.now()
        try:
            with transaction(self.svc.sessions) as session:
                row = self._get(session, name, lock=True)
                before = self._view(row, now)
                env_before = self._env_values(row)
                hooks_before = dict(row.hooks or {})
                merged, schedule_changed = self._edited_fields(row, spec)
                links = self._apply(session, row, merged, now, schedule_changed=schedule_changed)
                if links is not None:
                    chain_store.set_links(session, row.id, links)
                    session.flush()
                view = self._view(row, now)
                changed = _changes(before, view)
                if env_before is None or env_before != self._env_values(row):
                    changed = sorted({*changed, "params.env"})
                if hooks_before != (row.hooks or {}):  # a webhook's URL, shown by its hint
                    changed = sorted({*changed, "hooks"})
                if not changed:
                    raise _Unchanged
                if schedule_changed or not row.enabled:
                    run_store.withdraw_ahead(session, row.id, now=now)
                if "windows" in changed or "windows_tz" in changed:
                    window_store.rewait(session, row, now=now)
                row.updated_at = now
                store.set_remotes(session, row.id, self._remotes_used(row))
                view = self._view(row, now)
                audit.record(
                    session,
                    at=now,
                    actor=self.svc.actor,
                    action="job.edit",
                    target_type="job",
                    target=name,
                    before=before,
                    after=view,
                )
        except _Unchanged:
            return Edited(before, [])
        self.svc.on_change()
        return Edited(view, changed)

    def _env_values(self, row: JobRow) -> dict[str, Any] | None:
        """A command job's environment, values in the clear ({} without one); None
        when they cannot be read (then an edit that gives them counts as a change)."""
        env = dict((row.params or {}).get("env") or {})
        if row.secret_env is None:
            return env
        try:
            return {**env, **self.svc.box.open(row.secret_env)}
        except SynchubError:
            return None

    def check(self, name: str, spec: JobFields, *, editing: bool = False) -> None:
        """Raise what `add(name, spec)` (or, `editing`, `edit(name, spec)`) would
        refuse, every problem at once (InvalidFields), changing nothing: a form asks
        as it is filled in. A name already taken is a problem of the name here."""
        now = self.svc.clock.now()
        problems = Problems()
        with reading(self.svc.sessions) as session:
            if editing:
                row = self._get(session, name)
                merged, schedule_changed = self._edited_fields(row, spec)
                probe = _probe(row)  # never attached to the session: nothing is written
            else:
                with problems.about("name"):
                    check_name(name, what="job")
                    if store.get(session, name) is not None:
                        raise InvalidInput(f"A job named {name!r} already exists")
                merged, schedule_changed, probe = _new_fields(spec), True, JobRow(name=name)
            self._apply(
                session, probe, merged, now, schedule_changed=schedule_changed, problems=problems
            )

    def _edited_fields(self, row: JobRow, spec: JobFields) -> tuple[JobFields, bool]:
        """The job's fields after an edit giving `spec`, and whether its schedule
        changes (it then counts from now)."""
        current = self._fields_of(row)
        schedule_changed = (
            any(x is not None for x in (spec.cron, spec.tz, spec.every)) or spec.manual
        )
        _check_tz_edit(spec, row)
        if spec.cron is not None or spec.every is not None or spec.manual:
            # An interval's stored zone (UTC) is no choice of the user's: a new cron
            # expression is read in the default zone unless --tz says.
            keep_tz = row.tz if row.schedule_kind == ScheduleKind.CRON.value else None
            current = replace(current, cron=None, every=None, tz=keep_tz)
        base = {} if spec.replace_params else row.params
        params = _edited_options(row, {**base, **(spec.params or {})}, spec)
        return replace(_overlay(spec, current), params=params), schedule_changed

    def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name, lock=True)
            if row.enabled != enabled:
                row.enabled = enabled
                # Fire times while disabled are not misfires: count from now.
                row.next_fire_at = next_fire(self.schedule_of(row), now) if enabled else None
                if not enabled:
                    run_store.withdraw_ahead(session, row.id, now=now)
                row.updated_at = now
                audit.record(
                    session,
                    at=now,
                    actor=self.svc.actor,
                    action="job.enable" if enabled else "job.disable",
                    target_type="job",
                    target=name,
                )
            view = self._view(row, now)
        self.svc.on_change()
        return view

    def mute(self, name: str, duration: str | int) -> dict[str, Any]:
        """Queue no alert for the job for `duration` (text like 2h, or seconds) from
        now; a new mute replaces the old one. InvalidInput for a bad duration."""
        seconds = (
            _duration(duration, "mute duration")
            if isinstance(duration, str)
            else _duration(f"{duration}s", "mute duration (seconds)")
        )
        return self._set_muted(name, self.svc.clock.now() + timedelta(seconds=seconds))

    def unmute(self, name: str) -> dict[str, Any]:
        """Alerts for the job again; a job not muted stays as it is."""
        return self._set_muted(name, None)

    def _set_muted(self, name: str, until: datetime | None) -> dict[str, Any]:
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name, lock=True)
            before = _iso(row.muted_until) if _muted(row, now) else None
            row.muted_until = until
            audit.record(
                session, at=now, actor=self.svc.actor,
                action="job.mute" if until else "job.unmute", target_type="job", target=name,
                before={"muted_until": before}, after={"muted_until": _iso(until)},
            )  # fmt: skip
            return self._view(row, now)

    def remove(self, name: str, *, keep_history: bool = False) -> dict[str, Any]:
        """Remove a job, in one transaction:

        1. Refuse (JobRunning, nothing changes) while a run of the job is running: a
           run must never be left running without its job. Cancel it, let it end,
           then remove the job.
        2. End its pending and queued runs as cancelled (reason `job_deleted`).
        3. Delete its runs with their logs and change reports, or with `keep_history`
           keep them: they still name the job, can be read, and cannot be retried.
        4. Delete the job and audit it (`job.remove`; `after` says what became of
           the runs).

        Returns {"keep_history", "runs_cancelled": [ids], "runs_kept", "runs_deleted"}.
        JobNotFound for an unknown job.
        """
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            # The job's row lock orders this against a claim: a run claimed first is
            # seen running below; one claimed after finds the job gone.
            row = self._get(session, name, lock=True)
            running = run_store.running_of_job(session, row.id)
            if running:
                raise JobRunning(
                    f"Job {name!r} has a run in progress (run {running[0]}): cancel it, "
                    "wait for it to end, then remove the job"
                )
            followers = chain_store.downstreams(session, row.id)
            if followers:
                names = ", ".join(name for name, _on in followers)
                raise JobChained(
                    f"Job {name!r} cannot be removed: {names} run after it (--after "
                    f"{name}); edit or remove those jobs' links first"
                )
            before = self._view(row, now)
            cancelled = run_store.cancel_waiting(
                session, row.id, now=now, reason=CancelReason.JOB_DELETED.value
            )
            if keep_history:
                kept, deleted = run_store.count_of_job(session, row.id), 0
            else:
                kept, deleted = 0, run_store.remove_of_job(session, row.id)
            store.remove(session, row.id)  # kept runs' job_id becomes NULL
            outcome: dict[str, Any] = {
                "keep_history": keep_history,
                "runs_cancelled": cancelled,
                "runs_kept": kept,
                "runs_deleted": deleted,
            }
            audit.record(
                session,
                at=now,
                actor=self.svc.actor,
                action="job.remove",
                target_type="job",
                target=name,
                before=before,
                after=outcome,
            )
        self.svc.on_change()
        return outcome

    def show(self, name: str) -> dict[str, Any]:
        now = self.svc.clock.now()
        # Reads take no write lock (on SQLite a `transaction` does): API reads must
        # not queue behind the scheduler's and the runners' writes.
        with reading(self.svc.sessions) as session:
            return self._view(self._get(session, name), now)

    def run_count(self, name: str) -> int:
        """How many runs the job has: what removing it deletes, or keeps."""
        with reading(self.svc.sessions) as session:
            return run_store.count_of_job(session, self._get(session, name).id)

    def longest_timeout(self) -> float | None:
        """The longest timeout of any job (seconds), None when none has one."""
        with reading(self.svc.sessions) as session:
            return store.longest_timeout(session)

    def list(self) -> builtins.list[dict[str, Any]]:
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            return [self._view(r, now) for r in store.all_jobs(session)]

    def briefs(self, *, enabled: bool | None = None) -> builtins.list[JobBrief]:
        """Id, name and next fire of every job (or of the enabled ones, or not), by
        name: a listing of thousands of jobs that needs no more than that."""
        with reading(self.svc.sessions) as session:
            return [
                JobBrief(job_id, name, kind != ScheduleKind.NONE.value, _iso(next_fire))
                for job_id, name, kind, next_fire in store.briefs(session, enabled=enabled)
            ]

    def watched(self) -> builtins.list[dict[str, Any]]:
        """The watched-folder jobs, enabled or not, oldest first."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            return [self._view(r, now) for r in store.watched(session, enabled_only=False)]

    def next(self, name: str, count: int = 5) -> builtins.list[datetime]:
        """The job's next fire times; none while it is disabled (it fires none)."""
        if count < 1:
            raise InvalidInput("Bad count: it must be at least 1")
        with reading(self.svc.sessions) as session:
            row = self._get(session, name)
        if not row.enabled:
            return []
        schedule = self.schedule_of(row)
        return [in_own_zone(schedule, f) for f in next_fires(schedule, self.svc.clock.now(), count)]

    def find(
        self,
        *,
        tag: str | None = None,
        enabled: bool | None = None,
        queue: str | None = None,
        remote: str | None = None,
        search: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Every job by name matching every filter given: a tag they carry, enabled or
        not, their queue, a remote they read or write, `search` within the name (any
        case). For a listing that may be long, use `page`."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            rows = store.find(
                session, tag=tag, enabled=enabled, queue=queue, remote=remote, search=search
            )
            return [self._view(r, now) for r in rows]

    def page(
        self,
        *,
        tag: str | None = None,
        enabled: bool | None = None,
        queue: str | None = None,
        remote: str | None = None,
        search: str | None = None,
        ids: Collection[int] | None = None,
        not_ids: Collection[int] = (),
        after: str | None = None,
        limit: int = 100,
    ) -> tuple[builtins.list[dict[str, Any]], bool]:
        """One page of the jobs `find` gives: at most `limit` of them, by name, after
        the name `after` (the last of the previous page), and whether more follow.
        InvalidInput for a limit outside 1 to 1000."""
        if limit < 1 or limit > 1000:
            raise InvalidInput("Bad limit: use a number from 1 to 1000")
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            # One row more than asked says whether another page follows, so the
            # last page ends the listing instead of an empty page after it.
            rows = store.find(
                session,
                tag=tag,
                enabled=enabled,
                queue=queue,
                remote=remote,
                search=search,
                ids=ids,
                not_ids=not_ids,
                after_name=after,
                limit=limit + 1,
            )
            return [self._view(r, now) for r in rows[:limit]], len(rows) > limit

    def resolve(self, ref: str) -> str:
        """The name of the job `ref` names: a job name, else a numeric job id (the seed
        systems' config ids). JobNotFound when neither matches."""
        with reading(self.svc.sessions) as session:
            row = store.get(session, ref)
            if row is None and ref.isascii() and ref.isdigit() and len(ref) <= 18:
                row = store.get_by_id(session, int(ref))
            if row is None:
                raise JobNotFound(f"No job named {ref!r} or with that id")
            return row.name

    def disable_all(self) -> builtins.list[str]:
        """Disable every enabled job (each change audited); the names disabled."""
        names = [b.name for b in self.briefs(enabled=True)]
        for name in names:
            self.set_enabled(name, False)
        return names

    def check_schedule(
        self,
        *,
        cron: str | None = None,
        every: str | None = None,
        tz: str | None = None,
        count: int = 5,
        after: datetime | None = None,
    ) -> dict[str, Any]:
        """What a schedule would do, without saving anything.

        Returns {"valid": True, "kind", "tz", "description", "next": [ISO times]} or
        {"valid": False, "error": why, "field": "cron"|"every"|"tz", "part": the cron
        field at fault or None}. Raises InvalidInput only for a bad `count` or `after`.
        """
        if count < 1 or count > 100:
            raise InvalidInput("Bad count: use a number from 1 to 100")
        start = check_instant(after, "after") or self.svc.clock.now()
        zone_name = tz or self.svc.settings.default_tz or local_zone_name()
        field_name = "tz"
        try:
            zone(zone_name)
            if cron is not None and every is not None:
                field_name = "cron"
                raise InvalidSchedule("Give either a cron expression or an interval, not both")
            if cron is not None:
                field_name = "cron"
                schedule = cron_schedule(cron, zone_name)
            elif every is not None:
                field_name = "every"
                schedule = interval_schedule(_duration(every, "interval"), start)
            else:
                field_name = "cron"
                raise InvalidSchedule("Give a cron expression or an interval")
        except InvalidInput as exc:
            part = _CRON_PART.search(exc.message) if field_name == "cron" else None
            return {
                "valid": False,
                "error": exc.message,
                "field": field_name,
                "part": part.group(1) if part else None,
            }
        return {
            "valid": True,
            "kind": schedule.kind.value,
            "tz": zone_name,
            "description": describe(schedule),
            "next": [
                in_own_zone(schedule, f).isoformat() for f in next_fires(schedule, start, count)
            ],
        }

    @staticmethod
    def allowed_options() -> builtins.list[tuple[str, str]]:
        """The rclone flags a job may pass, by name, each with how its value is written."""
        from synchub.engines.rclone_flags import described

        return described()

    # -- rules ---------------------------------------------------------------

    def _apply(
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
            retry_delay = _duration(spec.retry_delay, "retry delay")
        with problems.about("timeout"):
            timeout = _timeout(spec.timeout) or 0
        stale_after = long_after = None
        with problems.about("stale_after"):
            stale_after = _auto_duration(spec.stale_after, "--stale-after")
        with problems.about("long_after"):
            long_after = _auto_duration(spec.long_after, "--long-after")
        overlap, misfire = OverlapPolicy.SKIP, MisfirePolicy.ONCE
        with problems.about("overlap"):
            overlap = _choice(OverlapPolicy, spec.overlap, "overlap policy")
        with problems.about("misfire"):
            misfire = _choice(MisfirePolicy, spec.misfire, "misfire policy")
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
        row.params, row.secret_env = self._sealed_env(params)
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
                raw["options"] = _with_max_depth(spec.kind, raw.get("options"), spec.max_depth)
        with problems.about("env"):
            if isinstance(raw.get("env"), dict):
                raw["env"] = self._unmasked_env(row, raw["env"])
        with problems.about("delete_guard"):
            _with_safety(spec, raw)
        if len(problems.found) > found:
            return None
        with problems.about("params"):
            return engine.validate(raw, remote_store.names(session))
        return None

    def _schedule(self, spec: JobFields, now: datetime, keep: JobRow | None) -> Schedule:
        if spec.cron is not None and spec.every is not None:
            raise InvalidSchedule("Give either a cron expression or an interval, not both")
        if keep is not None:
            return self.schedule_of(keep)
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
                return interval_schedule(_duration(spec.every, "interval"), anchor)
        return Schedule(kind=ScheduleKind.NONE, tz=tz)

    def seal_stored_env(self) -> builtins.list[str]:
        """Seal the environment values of jobs stored before revision 0007, which keep
        them in plain text in `params.env`, and mask env values in the stored audit
        events. Safe to run again, and from several processes at once (each job row is
        locked). Audited as `job.seal`, names only. Returns the jobs sealed; none
        without a key (views mask the values meanwhile)."""
        if not self.svc.box.has_key:
            return []
        now = self.svc.clock.now()
        done: builtins.list[str] = []
        with transaction(self.svc.sessions) as session:
            for found in store.all_jobs(session):
                row = store.lock(session, found.id) if _plain_env(found.params) else None
                if row is None or not _plain_env(row.params):
                    continue  # gone, or sealed by another process meanwhile
                try:
                    env = {**row.params["env"], **self.svc.box.open(row.secret_env)}
                except SynchubError:
                    continue  # sealed with another key: left as it is, masked in views
                row.params, row.secret_env = self._sealed_env({**row.params, "env": env})
                done.append(row.name)
                audit.record(
                    session,
                    at=now,
                    actor=self.svc.actor,
                    action="job.seal",
                    target_type="job",
                    target=row.name,
                    after={"sealed": sorted(env)},
                )
            # Only events recorded before 0007 hold values, and only where such jobs were.
            for event in audit.about(session, "job") if done else ():
                before, after = masked_event(event.before), masked_event(event.after)
                if (before, after) != (event.before, event.after):
                    event.before, event.after = before, after
        return done

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

    def _sealed_env(self, params: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
        """The params to store, whose `env` keeps only the names (masked values), and
        the values sealed with the secret key: they may be credentials."""
        env = params.get("env")
        if not env:
            return params, None
        return {**params, "env": dict.fromkeys(env, MASK)}, self.svc.box.seal(env)

    def _remotes_used(self, row: JobRow) -> frozenset[str]:
        return self.svc.engines[row.kind].remotes_used(row.params)

    def _get(self, session: Session, name: str, *, lock: bool = False) -> JobRow:
        row = store.get(session, name)
        if row is not None and lock:
            row = store.lock(session, row.id)
        if row is None:
            raise JobNotFound(f"No job named {name!r}")
        return row

    @staticmethod
    def schedule_of(row: JobRow) -> Schedule:
        return Schedule(
            kind=ScheduleKind(row.schedule_kind),
            cron=row.cron,
            tz=row.tz,
            every_s=row.every_s,
            anchor=row.anchor_at,
        )

    @staticmethod
    def _fields_of(row: JobRow) -> JobFields:
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
            keep_runs=_keep_runs_text(row) or "",
            keep_logs=format_duration(row.keep_logs_s) if row.keep_logs_s else "",
            windows=list(row.windows or []),
        )

    def _view(self, row: JobRow, now: datetime) -> dict[str, Any]:
        schedule = self.schedule_of(row)
        return {
            "id": row.id,
            "name": row.name,
            "kind": row.kind,
            "params": masked_env(row.params),
            "schedule": {
                "kind": schedule.kind.value,
                "cron": schedule.cron,
                "tz": schedule.tz,
                "every_s": schedule.every_s,
                "anchor": _iso(schedule.anchor),
                "description": describe(schedule),
            },
            "misfire": row.misfire,
            "queue": row.queue,
            "retries": row.retries,
            "retry_delay_s": row.retry_delay_s,
            "timeout_s": row.timeout_s,
            "stale_after_s": row.stale_after_s,  # None: derived from the schedule
            "long_after_s": row.long_after_s,  # None: from its successful runs
            "overlap": row.overlap,
            "enabled": row.enabled,
            "tags": list(row.tags),
            "watch": row.watch,
            "keep_runs": _keep_runs_text(row),
            "keep_logs": format_duration(row.keep_logs_s) if row.keep_logs_s else None,
            **windows_view(row.windows, row.windows_tz),
            "max_depth": max_depth(row.params) if row.kind == "rclone" else None,
            **_safety_view(row),
            "watch_problem": self.watch_problem(row),
            # alerts are silenced until then; None when not muted (or the mute ended)
            "muted_until": _iso(row.muted_until) if _muted(row, now) else None,
            "hooks": shown(row.hooks),  # a webhook by its URL's hint only
            **_chain_view(row),
            "next_fire_at": _iso(in_own_zone(schedule, row.next_fire_at))
            if row.next_fire_at
            else None,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
        }

    @staticmethod
    def watch_problem(row: JobRow) -> str | None:
        """Why the watcher cannot watch the job's folder now, or None (also for a
        remote source, which is rescanned only). Derived at each look, not stored."""
        if not row.watch or row.kind != "rclone":
            return None
        session = object_session(row)

        def remote_type(name: str) -> str | None:
            found = remote_store.get(session, name) if session is not None else None
            return found.type if found is not None else None

        folder = local_folder(row.params.get("source"), remote_type)
        return folder_problem(folder) if folder is not None else None


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


def _muted(row: JobRow, now: datetime) -> bool:
    return row.muted_until is not None and row.muted_until > now


def _chain_view(row: JobRow) -> dict[str, Any]:
    """The jobs this one runs after, and those that run after it (derived: the
    links are the downstream jobs' own settings)."""
    session = object_session(row)
    if session is None or row.id is None:
        return {"after": [], "chained_by": []}
    return {
        "after": [{"job": n, "on": on} for n, on in chain_store.upstreams(session, row.id)],
        "chained_by": [{"job": n, "on": on} for n, on in chain_store.downstreams(session, row.id)],
    }


def _new_fields(spec: JobFields) -> JobFields:
    """A new job's fields: `spec` over the defaults."""
    merged = _overlay(spec, DEFAULTS)
    if merged.watch and merged.kind == "rclone" and "op" not in (merged.params or {}):
        # New and changed files go up; nothing is deleted at the destination.
        merged = replace(merged, params={**(merged.params or {}), "op": "copy"})
    return merged


def _probe(row: JobRow) -> JobRow:
    """A detached copy of what an edit of `row` reads, to check an edit on."""
    return JobRow(
        name=row.name,
        hooks=dict(row.hooks or {}),
        params=dict(row.params),
        secret_env=row.secret_env,
        schedule_kind=row.schedule_kind,
        cron=row.cron,
        tz=row.tz,
        every_s=row.every_s,
        anchor_at=row.anchor_at,
        enabled=row.enabled,
        next_fire_at=row.next_fire_at,
    )


def _with_max_depth(kind: str | None, options: Any, depth: int) -> Any:
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


def _with_safety(spec: JobFields, raw: dict[str, Any]) -> None:
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


def _safety_view(row: JobRow) -> dict[str, Any]:
    """The job's delete guard and access check (None where they do not apply), its
    marker and keep period."""
    if row.kind != "rclone":
        return {
            "delete_guard": None, "require_marker": None, "check_access": None,
            "keep_deleted": None,
        }  # fmt: skip
    op = row.params.get("op", "sync")
    guarded = op in GUARDED_OPS
    return {
        "delete_guard": row.params.get("delete_guard", DEFAULT_DELETE_GUARD) if guarded else None,
        "require_marker": row.params.get("require_marker"),
        "check_access": row.params.get("check_access", True) if op == "bisync" else None,
        "keep_deleted": row.params.get("keep_deleted"),
    }


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


def _changes(before: dict[str, Any], after: dict[str, Any]) -> builtins.list[str]:
    """The fields of a job's view that differ, `params` by key, derived ones left out."""
    changed = [
        key
        for key in after
        if key not in _DERIVED and key not in ("params", "schedule") and before[key] != after[key]
    ]
    params_before, params_after = before["params"], after["params"]
    changed += [
        f"params.{key}"
        for key in sorted(params_before.keys() | params_after.keys())
        if params_before.get(key) != params_after.get(key)
    ]
    schedule_before, schedule_after = before["schedule"], after["schedule"]
    if any(schedule_before[k] != schedule_after[k] for k in ("kind", "cron", "tz", "every_s")):
        changed.append("schedule")
    return changed


_TZ_ALONE = (
    "tz goes with cron: it is the zone the cron expression is read in (an interval "
    "counts elapsed time in no zone)"
)


def _check_tz_edit(spec: JobFields, row: JobRow) -> None:
    """InvalidSchedule when an edit gives a zone that no cron expression would read."""
    if spec.tz is None or spec.cron is not None:
        return
    if spec.every is not None or spec.manual or row.schedule_kind != ScheduleKind.CRON.value:
        raise InvalidSchedule(f"{_TZ_ALONE}; job {row.name!r} would have no cron schedule")


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


#: The longest interval, retry delay or timeout: ten years, which fits the columns'
#: 32-bit integers and keeps every fire time computable.
MAX_DURATION_S = 10 * 365 * 86400


def _keep_runs_text(row: JobRow) -> str | None:
    """The job's own `keep_runs` as typed ("30d", "500"); None: the settings' rule."""
    if row.keep_runs_s is None and row.keep_runs_count is None:
        return None
    return KeepRuns(age_s=row.keep_runs_s, count=row.keep_runs_count).text()


#: What a user types for "no timeout".
_NO_TIMEOUT = frozenset({"", "none", "off"})


def _timeout(text: str) -> int | None:
    """Seconds of a timeout; None for no timeout ("", "none" or "off")."""
    if text.strip().lower() in _NO_TIMEOUT:
        return None
    return _duration(text, "timeout")


def _auto_duration(text: str | None, what: str) -> int | None:
    """Seconds of an alert threshold; None for the derived default ("" or "auto")."""
    if text is None or text.strip().lower() in {"", "auto"}:
        return None
    return _duration(text, what)


def _duration(text: str, what: str) -> int:
    """Seconds in `text`, from 1 s to MAX_DURATION_S; InvalidInput otherwise."""
    seconds = parse_duration(text, what=what)
    if seconds > MAX_DURATION_S:
        raise InvalidInput(f"Bad {what} {text!r}: it must be at most 10 years")
    return seconds


#: An option setting rclone's --max-depth, in any spelling the allow-list takes.
_MAX_DEPTH = re.compile(r"\s*--max-depth(\s|=|$)")

#: The cron field a validation message blames, e.g. "bad minute '61'".
_CRON_PART = re.compile(r"\bbad (minute|hour|day-of-month|month|day-of-week)\b")

E = TypeVar("E", OverlapPolicy, MisfirePolicy)


def _choice(enum: type[E], value: str | None, what: str) -> E:
    try:
        return enum(value or "")
    except ValueError:
        allowed = "|".join(m.value for m in enum)
        raise InvalidInput(f"Bad {what} {value!r}: use {allowed}") from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _plain_env(params: dict[str, Any]) -> bool:
    env = params.get("env")
    return isinstance(env, dict) and any(value != MASK for value in env.values())


def masked_event(view: dict[str, Any] | None) -> dict[str, Any] | None:
    """A job's view as an audit event holds it, its env values masked."""
    if not view or not isinstance(view.get("params"), dict):
        return view
    return (
        view if not _plain_env(view["params"]) else {**view, "params": masked_env(view["params"])}
    )


def masked_env(params: dict[str, Any]) -> dict[str, Any]:
    """`params` with the values of its `env` masked. Stored params hold them masked
    already, but for jobs stored before the values were sealed (revision 0007)."""
    env = params.get("env")
    if not isinstance(env, dict) or not env:
        return params
    return {**params, "env": dict.fromkeys(env, MASK)}
