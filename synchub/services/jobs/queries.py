"""Reading jobs: one, a page of them, their next fire times, what a schedule would do."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy.orm import Session

from synchub.core.clock import iso
from synchub.core.errors import InvalidInput, InvalidSchedule, JobNotFound
from synchub.core.schedules import (
    ScheduleKind,
    cron_schedule,
    describe,
    in_own_zone,
    interval_schedule,
    local_zone_name,
    next_fires,
    zone,
)
from synchub.services.jobs.fields import CRON_PART, seconds_of
from synchub.services.jobs.job_views import (
    JobBrief,
    JobView,
    ScheduleChecked,
    ScheduleInvalid,
    ScheduleValid,
)
from synchub.services.jobs.views import job_view
from synchub.services.run_views import check_instant
from synchub.store import chains as chain_store
from synchub.store import jobs as store
from synchub.store import runs as run_store
from synchub.store.db import reading
from synchub.store.jobs import schedule_of
from synchub.store.tables import JobRow

if TYPE_CHECKING:
    from synchub.services.context import Services


class JobQueries:
    """What the jobs service reads (JobService changes them too)."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def show(self, name: str) -> JobView:
        now = self.svc.clock.now()
        # Reads take no write lock (on SQLite a `transaction` does): API reads must
        # not queue behind the scheduler's and the runners' writes.
        with reading(self.svc.sessions) as session:
            return job_view(self._get(session, name), now)

    def run_count(self, name: str) -> int:
        """How many runs the job has: what removing it deletes, or keeps."""
        with reading(self.svc.sessions) as session:
            return run_store.count_of_job(session, self._get(session, name).id)

    def longest_timeout(self) -> float | None:
        """The longest timeout of any job (seconds), None when none has one."""
        with reading(self.svc.sessions) as session:
            return store.longest_timeout(session)

    def list(self) -> builtins.list[JobView]:
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            links = chain_store.all_links(session)
            return [job_view(r, now, links) for r in store.all_jobs(session)]

    def briefs(self, *, enabled: bool | None = None) -> builtins.list[JobBrief]:
        """Id, name and next fire of every job (or of the enabled ones, or not), by
        name: a listing of thousands of jobs that needs no more than that."""
        with reading(self.svc.sessions) as session:
            return [
                JobBrief(job_id, name, kind != ScheduleKind.NONE.value, iso(next_fire))
                for job_id, name, kind, next_fire in store.briefs(session, enabled=enabled)
            ]

    def watched(self) -> builtins.list[JobView]:
        """The watched-folder jobs, enabled or not, oldest first."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            links = chain_store.all_links(session)
            return [job_view(r, now, links) for r in store.watched(session, enabled_only=False)]

    def next(self, name: str, count: int = 5) -> builtins.list[datetime]:
        """The job's next fire times; none while it is disabled (it fires none)."""
        if count < 1:
            raise InvalidInput("Bad count: it must be at least 1")
        with reading(self.svc.sessions) as session:
            row = self._get(session, name)
        if not row.enabled:
            return []
        schedule = schedule_of(row)
        return [in_own_zone(schedule, f) for f in next_fires(schedule, self.svc.clock.now(), count)]

    def find(
        self,
        *,
        tag: str | None = None,
        enabled: bool | None = None,
        queue: str | None = None,
        remote: str | None = None,
        search: str | None = None,
    ) -> builtins.list[JobView]:
        """Every job by name matching every filter given: a tag they carry, enabled or
        not, their queue, a remote they read or write, `search` within the name (any
        case). For a listing that may be long, use `page`."""
        now = self.svc.clock.now()
        with reading(self.svc.sessions) as session:
            rows = store.find(
                session, tag=tag, enabled=enabled, queue=queue, remote=remote, search=search
            )
            links = chain_store.all_links(session)
            return [job_view(r, now, links) for r in rows]

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
    ) -> tuple[builtins.list[JobView], bool]:
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
            links = chain_store.all_links(session)
            return [job_view(r, now, links) for r in rows[:limit]], len(rows) > limit

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

    def check_schedule(
        self,
        *,
        cron: str | None = None,
        every: str | None = None,
        tz: str | None = None,
        count: int = 5,
        after: datetime | None = None,
    ) -> ScheduleChecked:
        """What a schedule would do, without saving anything: its description and next
        fire times, or why it is not valid and the input at fault. Raises InvalidInput
        only for a bad `count` or `after`."""
        if count < 1 or count > 100:
            raise InvalidInput("Bad count: use a number from 1 to 100")
        start = check_instant(after, "after") or self.svc.clock.now()
        zone_name = tz or self.svc.settings.default_tz or local_zone_name()
        field_name: Literal["cron", "every", "tz"] = "tz"
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
                schedule = interval_schedule(seconds_of(every, "interval"), start)
            else:
                field_name = "cron"
                raise InvalidSchedule("Give a cron expression or an interval")
        except InvalidInput as exc:
            part = CRON_PART.search(exc.message) if field_name == "cron" else None
            return ScheduleInvalid(exc.message, field_name, part.group(1) if part else None)
        return ScheduleValid(
            kind=schedule.kind.value,
            tz=zone_name,
            description=describe(schedule),
            next=[in_own_zone(schedule, f).isoformat() for f in next_fires(schedule, start, count)],
        )

    @staticmethod
    def allowed_options() -> builtins.list[tuple[str, str]]:
        """The rclone flags a job may pass, by name, each with how its value is written."""
        from synchub.engines.rclone.flags import described

        return described()

    def _get(self, session: Session, name: str, *, lock: bool = False) -> JobRow:
        row = store.get(session, name)
        if row is not None and lock:
            row = store.lock(session, row.id)
        if row is None:
            raise JobNotFound(f"No job named {name!r}")
        return row
