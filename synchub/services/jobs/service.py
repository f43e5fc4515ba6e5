"""Jobs: define, edit, enable, mute and remove them (JobQueries reads them)."""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from synchub.core.clock import iso
from synchub.core.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    InvalidSchedule,
    JobRunning,
    Problems,
    SynchubError,
)
from synchub.core.names import check_name
from synchub.core.runs import CancelReason, SkipReason
from synchub.core.schedules import next_fire
from synchub.services.jobs.fields import TZ_ALONE, JobFields, edited_fields, new_fields, seconds_of
from synchub.services.jobs.job_views import Edited, JobView, Removed
from synchub.services.jobs.queries import JobQueries
from synchub.services.jobs.rules import JobRules
from synchub.services.jobs.views import changes, job_view, muted
from synchub.services.masks import job_event, plain_env
from synchub.store import audit, job_summary
from synchub.store import chains as chain_store
from synchub.store import jobs as store
from synchub.store import runs as run_store
from synchub.store import windows as window_store
from synchub.store.db import reading, transaction
from synchub.store.jobs import schedule_of
from synchub.store.tables import JobRow

if TYPE_CHECKING:
    from synchub.services.context import Services


class _Unchanged(Exception):
    """Raised inside an edit's transaction to roll back an edit that changes nothing."""


class JobChained(Conflict):
    """Other jobs run after this one."""


class JobService(JobQueries):
    def __init__(self, svc: Services) -> None:
        super().__init__(svc)
        self.rules = JobRules(svc)

    def add(self, name: str, spec: JobFields) -> JobView:
        problems = Problems()
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            row, merged, _ = self._target(session, name, spec, problems)
            row.created_at = row.updated_at = now
            links = self.rules.apply(
                session, row, merged, now, schedule_changed=True, problems=problems
            )
            session.add(row)
            session.flush()
            job_summary.refine_stale_bounds(session, now, [row.id])
            store.set_remotes(session, row.id, self._remotes_used(row))
            chain_store.set_links(session, row.id, links or [])
            view = job_view(row, now)
            self.svc.audit_event(session, "job.add", name, at=now, after=view.as_dict())
        self.svc.on_change()
        return view

    def edit(self, name: str, spec: JobFields) -> JobView:
        """Change what `spec` gives (see `change`); the job as it is now."""
        return self.change(name, spec).view

    def change(self, name: str, spec: JobFields) -> Edited:
        """Change what `spec` gives, the rest stays; a new schedule counts from now.
        An edit that changes nothing writes nothing: no audit event, no new
        `updated_at`, and a schedule given again keeps its next fire time."""
        now = self.svc.clock.now()
        try:
            with transaction(self.svc.sessions) as session:
                row, merged, schedule_changed = self._target(session, name, spec, editing=True)
                before = job_view(row, now)
                env_before = self.rules.env_values(row)
                hooks_before = dict(row.hooks or {})
                links = self.rules.apply(
                    session, row, merged, now, schedule_changed=schedule_changed
                )
                if links is not None:
                    chain_store.set_links(session, row.id, links)
                    session.flush()
                changed = changes(before, job_view(row, now))
                if env_before is None or env_before != self.rules.env_values(row):
                    changed = sorted({*changed, "params.env"})
                if hooks_before != (row.hooks or {}):  # a webhook's URL, shown by its hint
                    changed = sorted({*changed, "hooks"})
                if not changed:
                    raise _Unchanged
                if schedule_changed or not row.enabled:
                    run_store.withdraw_ahead(session, row.id, now=now)
                if schedule_changed:  # its summary's staleness bound went back to an hour
                    session.flush()
                    job_summary.refine_stale_bounds(session, now, [row.id])
                if "windows" in changed or "windows_tz" in changed:
                    window_store.rewait(session, row, now=now)
                row.updated_at = now
                store.set_remotes(session, row.id, self._remotes_used(row))
                view = job_view(row, now)
                self.svc.audit_event(
                    session, "job.edit", name, at=now, before=before.as_dict(), after=view.as_dict()
                )
        except _Unchanged:
            return Edited(before, [])
        self.svc.on_change()
        return Edited(view, changed)

    def check(self, name: str, spec: JobFields, *, editing: bool = False) -> None:
        """Raise what `add(name, spec)` (or, `editing`, `edit(name, spec)`) would
        refuse, every problem at once (InvalidFields), changing nothing: a form asks
        as it is filled in. A name already taken is a problem of the name here."""
        now = self.svc.clock.now()
        problems = Problems()
        with reading(self.svc.sessions) as session:
            probe, merged, schedule_changed = self._target(
                session, name, spec, problems, editing=editing, checking=True
            )
            self.rules.apply(
                session, probe, merged, now, schedule_changed=schedule_changed, problems=problems
            )

    def _target(
        self,
        session: Session,
        name: str,
        spec: JobFields,
        problems: Problems | None = None,
        *,
        editing: bool = False,
        checking: bool = False,
    ) -> tuple[JobRow, JobFields, bool]:
        """What an add or an edit of job `name` giving `spec` works on: the row to write
        into (a new one; the job's own, locked; for a check, a detached copy that is
        never written), the job's whole fields after it, and whether its schedule
        changes (it then counts from now). A new job's name and a zone given without
        a cron expression are problems kept in `problems`; a name already taken is
        AlreadyExists, but a problem of the name for a check."""
        if editing:
            row = self._get(session, name, lock=not checking)
            merged, schedule_changed = edited_fields(row, spec)
            return (_probe(row) if checking else row), merged, schedule_changed
        problems = problems if problems is not None else Problems()
        taken = f"A job named {name!r} already exists"
        with problems.about("name"):
            check_name(name, what="job")
            if checking and store.get(session, name) is not None:
                raise InvalidInput(taken)
        with problems.about("tz"):
            if spec.tz is not None and spec.cron is None:
                raise InvalidSchedule(TZ_ALONE)
        if not checking and store.get(session, name) is not None:
            raise AlreadyExists(taken)
        return JobRow(name=name), new_fields(spec), True

    def set_enabled(self, name: str, enabled: bool) -> JobView:
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name, lock=True)
            if row.enabled != enabled:
                row.enabled = enabled
                # Fire times while disabled are not misfires: count from now.
                row.next_fire_at = next_fire(schedule_of(row), now) if enabled else None
                if not enabled:
                    run_store.withdraw_ahead(session, row.id, now=now)
                    window_store.withdraw_waiting(
                        session, row.id, now=now, reason=SkipReason.DISABLED.value
                    )
                row.updated_at = now
                action = "job.enable" if enabled else "job.disable"
                self.svc.audit_event(session, action, name, at=now)
            view = job_view(row, now)
        self.svc.on_change()
        return view

    def mute(self, name: str, duration: str | int) -> JobView:
        """Queue no alert for the job for `duration` (text like 2h, or seconds) from
        now; a new mute replaces the old one. InvalidInput for a bad duration."""
        seconds = (
            seconds_of(duration, "mute duration")
            if isinstance(duration, str)
            else seconds_of(f"{duration}s", "mute duration (seconds)")
        )
        return self._set_muted(name, self.svc.clock.now() + timedelta(seconds=seconds))

    def unmute(self, name: str) -> JobView:
        """Alerts for the job again; a job not muted stays as it is."""
        return self._set_muted(name, None)

    def _set_muted(self, name: str, until: datetime | None) -> JobView:
        now = self.svc.clock.now()
        with transaction(self.svc.sessions) as session:
            row = self._get(session, name, lock=True)
            before = iso(row.muted_until) if muted(row, now) else None
            row.muted_until = until
            self.svc.audit_event(
                session, "job.mute" if until else "job.unmute", name, at=now,
                before={"muted_until": before}, after={"muted_until": iso(until)},
            )  # fmt: skip
            return job_view(row, now)

    def remove(self, name: str, *, keep_history: bool = False) -> Removed:
        """Remove a job, in one transaction:

        1. Refuse (JobRunning, nothing changes) while a run of the job is running: a
           run must never be left running without its job. Cancel it, let it end,
           then remove the job.
        2. End its pending and queued runs as cancelled (reason `job_deleted`).
        3. Delete its runs with their logs and change reports, or with `keep_history`
           keep them: they still name the job, can be read, and cannot be retried.
        4. Delete the job and audit it (`job.remove`; `after` says what became of
           the runs).

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
            before = job_view(row, now)
            cancelled = run_store.cancel_waiting(
                session, row.id, now=now, reason=CancelReason.JOB_DELETED.value
            )
            if keep_history:
                kept, deleted = run_store.count_of_job(session, row.id), 0
            else:
                kept, deleted = 0, run_store.remove_of_job(session, row.id)
            store.remove(session, row.id)  # kept runs' job_id becomes NULL
            outcome = Removed(keep_history, cancelled, kept, deleted)
            self.svc.audit_event(
                session, "job.remove", name, at=now, before=before.as_dict(),
                after=outcome.as_dict(),
            )  # fmt: skip
        if deleted:
            self.svc.activity.forget()  # the charts counted the runs that went
        self.svc.on_change()
        return outcome

    def disable_all(self) -> builtins.list[str]:
        """Disable every enabled job (each change audited); the names disabled."""
        names = [b.name for b in self.briefs(enabled=True)]
        for name in names:
            self.set_enabled(name, False)
        return names

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
                row = store.lock(session, found.id) if plain_env(found.params) else None
                if row is None or not plain_env(row.params):
                    continue  # gone, or sealed by another process meanwhile
                try:
                    env = {**row.params["env"], **self.svc.box.open(row.secret_env)}
                except SynchubError:
                    continue  # sealed with another key: left as it is, masked in views
                row.params, row.secret_env = self.rules.sealed_env({**row.params, "env": env})
                done.append(row.name)
                sealed = {"sealed": sorted(env)}
                self.svc.audit_event(session, "job.seal", row.name, at=now, after=sealed)
            # Only events recorded before 0007 hold values, and only where such jobs were.
            for event in audit.about(session, "job") if done else ():
                before, after = job_event(event.before), job_event(event.after)
                if (before, after) != (event.before, event.after):
                    event.before, event.after = before, after
        return done

    def _remotes_used(self, row: JobRow) -> frozenset[str]:
        return self.svc.engines[row.kind].remotes_used(row.params)


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
