"""A job as the services show it: its view made from its row, and what an edit
changed (the classes are in `job_views`)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy.orm import object_session

from synchub.core.chains import ChainOn
from synchub.core.clock import iso
from synchub.core.durations import format_duration
from synchub.core.hooks import shown
from synchub.core.safety import DEFAULT_DELETE_GUARD, GUARDED_OPS
from synchub.core.schedules import describe, in_own_zone
from synchub.scheduler.watch import folder_problem, local_folder, max_depth
from synchub.services.jobs.fields import keep_runs_text
from synchub.services.jobs.job_views import ChainLink, HookView, JobView, ScheduleView
from synchub.services.masks import masked_env
from synchub.store import chains as chain_store
from synchub.store import remotes as remote_store
from synchub.store.chains import Links
from synchub.store.jobs import schedule_of
from synchub.store.tables import JobRow


def job_view(
    row: JobRow, now: datetime, links: dict[int, tuple[Links, Links]] | None = None
) -> JobView:
    """The job as the services show it. `links`: every job's chain links
    (`chain_store.all_links`), given when many views are made at once so that each
    asks none of its own."""
    schedule = schedule_of(row)
    after, chained_by = _chain_view(row, links)
    safety = _safety_view(row)
    return JobView(
        id=row.id,
        name=row.name,
        kind=row.kind,
        params=masked_env(row.params),
        schedule=ScheduleView(
            kind=schedule.kind.value,
            cron=schedule.cron,
            tz=schedule.tz,
            every_s=schedule.every_s,
            anchor=iso(schedule.anchor),
            description=describe(schedule),
        ),
        misfire=row.misfire,
        queue=row.queue,
        retries=row.retries,
        retry_delay_s=row.retry_delay_s,
        timeout_s=row.timeout_s,
        stale_after_s=row.stale_after_s,
        long_after_s=row.long_after_s,
        overlap=row.overlap,
        enabled=row.enabled,
        tags=list(row.tags),
        watch=row.watch,
        keep_runs=keep_runs_text(row),
        keep_logs=format_duration(row.keep_logs_s) if row.keep_logs_s else None,
        windows=list(row.windows or []),
        windows_tz=row.windows_tz if row.windows else None,
        max_depth=max_depth(row.params) if row.kind == "rclone" else None,
        delete_guard=safety.delete_guard,
        require_marker=safety.require_marker,
        check_access=safety.check_access,
        keep_deleted=safety.keep_deleted,
        watch_problem=watch_problem(row),
        muted_until=iso(row.muted_until) if muted(row, now) else None,
        hooks=_hooks_view(row.hooks),
        after=after,
        chained_by=chained_by,
        next_fire_at=iso(in_own_zone(schedule, row.next_fire_at)) if row.next_fire_at else None,
        created_at=row.created_at.isoformat(),
        updated_at=row.updated_at.isoformat(),
    )


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


def muted(row: JobRow, now: datetime) -> bool:
    return row.muted_until is not None and row.muted_until > now


def _chain_view(
    row: JobRow, links: dict[int, tuple[Links, Links]] | None
) -> tuple[list[ChainLink], list[ChainLink]]:
    """The jobs this one runs after, and those that run after it (derived: the
    links are the downstream jobs' own settings)."""
    session = object_session(row)
    if row.id is None:
        return [], []
    if links is not None:
        after, chained_by = links.get(row.id, ([], []))
    elif session is not None:
        after = chain_store.upstreams(session, row.id)
        chained_by = chain_store.downstreams(session, row.id)
    else:
        return [], []
    return (
        [ChainLink(n, ChainOn(on)) for n, on in after],
        [ChainLink(n, ChainOn(on)) for n, on in chained_by],
    )


def _hooks_view(stored: Any) -> dict[str, builtins.list[HookView]]:
    """The stored hooks by event, a webhook by its URL's hint only."""
    return {
        event: [
            HookView(h.get("command"), h.get("url"), h["timeout_s"], h["on_error"]) for h in items
        ]
        for event, items in shown(stored).items()
    }


@dataclass(frozen=True)
class _Safety:
    """The job's delete guard and access check (None where they do not apply), its
    marker and keep period."""

    delete_guard: str | None = None
    require_marker: str | None = None
    check_access: bool | None = None
    keep_deleted: str | None = None


def _safety_view(row: JobRow) -> _Safety:
    if row.kind != "rclone":
        return _Safety()
    op = row.params.get("op", "sync")
    guarded = op in GUARDED_OPS
    return _Safety(
        delete_guard=row.params.get("delete_guard", DEFAULT_DELETE_GUARD) if guarded else None,
        require_marker=row.params.get("require_marker"),
        check_access=row.params.get("check_access", True) if op == "bisync" else None,
        keep_deleted=row.params.get("keep_deleted"),
    )


#: View fields that follow from the definition rather than being part of it: an edit
#: that changes only these (a schedule given again, counted from now) changes nothing.
#: max_depth, delete_guard and require_marker are read from `params`, where a change
#: to them shows.
_DERIVED = frozenset(
    {
        "updated_at", "next_fire_at", "watch_problem", "max_depth", "delete_guard",
        "require_marker", "chained_by",
    }
)  # fmt: skip


def changes(before: JobView, after: JobView) -> builtins.list[str]:
    """The fields of a job's view that differ, `params` by key, derived ones left out."""
    changed = [
        f.name
        for f in fields(JobView)
        if f.name not in _DERIVED
        and f.name not in ("params", "schedule")
        and getattr(before, f.name) != getattr(after, f.name)
    ]
    params_before, params_after = before.params, after.params
    changed += [
        f"params.{key}"
        for key in sorted(params_before.keys() | params_after.keys())
        if params_before.get(key) != params_after.get(key)
    ]
    old, new = before.schedule, after.schedule
    if (old.kind, old.cron, old.tz, old.every_s) != (new.kind, new.cron, new.tz, new.every_s):
        changed.append("schedule")
    return changed
