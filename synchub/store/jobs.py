"""Jobs and the remotes each one uses."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    String,
    bindparam,
    column,
    delete,
    exists,
    false,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from synchub.core.names import is_name
from synchub.core.schedules import Schedule, ScheduleKind
from synchub.store.tables import Base, JobRemoteRow, JobRow, RemoteRow

#: What a name holds once lowered (core.names): a needle with anything else matches none.
_NAME_CHARS = re.compile(r"[a-z0-9_.-]+")


def schedule_of(row: JobRow) -> Schedule:
    """The job's schedule, as its columns hold it."""
    return Schedule(
        kind=ScheduleKind(row.schedule_kind),
        cron=row.cron,
        tz=row.tz,
        every_s=row.every_s,
        anchor=row.anchor_at,
    )


def get(session: Session, name: str, *, share: bool = False) -> JobRow | None:
    """The job named `name`. `share` before inserting a run of it: the row is locked
    FOR SHARE (PostgreSQL), so a removal in progress ends first and the job is then
    found gone, where without the lock the insert would fail on the foreign key."""
    stmt = select(JobRow).where(JobRow.name == name)
    return session.scalars(stmt.with_for_update(read=True) if share else stmt).first()


def get_by_id(session: Session, job_id: int, *, share: bool = False) -> JobRow | None:
    """The job with id `job_id`; `share` as in `get`."""
    stmt = select(JobRow).where(JobRow.id == job_id)
    return session.scalars(stmt.with_for_update(read=True) if share else stmt).first()


def by_ids(session: Session, ids: set[int], *, share: bool = False) -> list[JobRow]:
    """The jobs with these ids; `share` as in `get`."""
    if not ids:
        return []
    stmt = select(JobRow).where(JobRow.id.in_(ids))
    return list(session.scalars(stmt.with_for_update(read=True) if share else stmt))


def params_by_name(session: Session, names: Collection[str]) -> dict[str, dict[str, Any]]:
    """The parameters of the jobs with these names, by name, in one query."""
    if not names:
        return {}
    rows = session.execute(select(JobRow.name, JobRow.params).where(JobRow.name.in_(names)))
    return {str(name): dict(params) for name, params in rows}


def lock(session: Session, job_id: int) -> JobRow | None:
    """The job row, locked until the transaction ends (a no-op lock on SQLite,
    where every transaction already holds the write lock)."""
    return session.scalars(select(JobRow).where(JobRow.id == job_id).with_for_update()).first()


def briefs(
    session: Session, *, enabled: bool | None = None
) -> list[tuple[int, str, str, datetime | None]]:
    """(id, name, schedule kind, next fire) of every job, by name: for listings that
    need no more, read without loading whole rows."""
    query = select(JobRow.id, JobRow.name, JobRow.schedule_kind, JobRow.next_fire_at)
    if enabled is not None:
        query = query.where(JobRow.enabled.is_(enabled))
    rows = session.execute(query.order_by(JobRow.name))
    return [(r.id, r.name, r.schedule_kind, r.next_fire_at) for r in rows]


def enabled_schedules(session: Session) -> list[tuple[int, str, datetime, Schedule]]:
    """Each enabled job's id, name, creation time and schedule, read as columns: a
    look over thousands of jobs that loads no whole row."""
    columns = (JobRow.schedule_kind, JobRow.cron, JobRow.tz, JobRow.every_s, JobRow.anchor_at)
    rows = session.execute(
        select(JobRow.id, JobRow.name, JobRow.created_at, *columns).where(JobRow.enabled.is_(True))
    )
    return [
        (job_id, name, created_at, Schedule(ScheduleKind(kind), cron, tz, every_s, anchor))
        for job_id, name, created_at, kind, cron, tz, every_s, anchor in rows
    ]


def all_jobs(session: Session) -> list[JobRow]:
    return list(session.scalars(select(JobRow).order_by(JobRow.name)))


def find(
    session: Session,
    *,
    tag: str | None = None,
    enabled: bool | None = None,
    queue: str | None = None,
    remote: str | None = None,
    search: str | None = None,
    ids: Collection[int] | None = None,
    not_ids: Collection[int] = (),
    after_name: str | None = None,
    limit: int | None = None,
) -> list[JobRow]:
    """Jobs by name matching every filter given: carrying `tag`, enabled or not, on
    `queue`, reading or writing the remote named `remote`, with `search` within the
    name in any case (LIKE wildcards in it are plain characters), among `ids` when
    given, not among `not_ids`.

    Keyset pagination: pass the last name of a page as `after_name` for the next
    one, which stays correct while jobs are added and removed; the unique index on
    the name serves the order and the cursor, so a deep page costs what the first
    one does. `limit` None: every match.
    """
    if any(value is not None and not is_name(value) for value in (tag, queue, remote)):
        # No tag, queue or remote has such a name; and PostgreSQL would refuse
        # some (text with NUL) where SQLite finds nothing.
        return []
    query = select(JobRow)
    if tag is not None:
        query = query.where(_has_tag(session, tag))
    if enabled is not None:
        query = query.where(JobRow.enabled.is_(enabled))
    if queue is not None:
        query = query.where(JobRow.queue == queue)
    if remote is not None:
        query = query.where(
            exists(
                select(JobRemoteRow.job_id)
                .join(RemoteRow, RemoteRow.id == JobRemoteRow.remote_id)
                .where(JobRemoteRow.job_id == JobRow.id, RemoteRow.name == remote)
            )
        )
    if search:
        query = query.where(_name_contains(search))
    if ids is not None:
        query = query.where(JobRow.id.in_(list(ids)))
    if not_ids:
        query = query.where(JobRow.id.not_in(list(not_ids)))
    if after_name is not None:
        query = query.where(JobRow.name > after_name)
    query = query.order_by(JobRow.name)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def _has_tag(session: Session, tag: str) -> ColumnElement[bool]:
    """SQL: the job's JSON list of tags holds `tag`. Each database expands the list
    into rows of text with a function of its own (the column is JSON, not jsonb, on
    PostgreSQL, so there is no containment operator to use without a cast)."""
    if session.get_bind().dialect.name == "postgresql":
        elements = func.json_array_elements_text(JobRow.tags)
    else:
        elements = func.json_each(JobRow.tags)
    each = elements.table_valued(column("value", String)).alias("tag")
    return exists(select(each.c.value).where(each.c.value == tag))


def _name_contains(search: str) -> ColumnElement[bool]:
    """SQL: `search` is within the job's name, any case, as Python's casefold sees
    it. Names are ASCII letters, digits, '.', '_' and '-' (core.names), so a needle
    with any other character matches no job, and lower() is casefold for the rest."""
    needle = search.casefold()
    if not needle.isascii() or not _NAME_CHARS.fullmatch(needle):
        return false()
    return func.lower(JobRow.name).contains(needle, autoescape=True)


def set_remotes(session: Session, job_id: int, remote_names: frozenset[str]) -> None:
    session.execute(delete(JobRemoteRow).where(JobRemoteRow.job_id == job_id))
    ids = session.scalars(select(RemoteRow.id).where(RemoteRow.name.in_(remote_names)))
    session.add_all(JobRemoteRow(job_id=job_id, remote_id=rid) for rid in ids)


def remove(session: Session, job_id: int) -> None:
    session.execute(delete(JobRow).where(JobRow.id == job_id))


def due(session: Session, now: datetime, limit: int) -> list[JobRow]:
    """Enabled jobs whose next fire time has come, locked against other schedulers."""
    return list(
        session.scalars(
            select(JobRow)
            .where(JobRow.enabled.is_(True), JobRow.next_fire_at <= now)
            .order_by(JobRow.next_fire_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def earliest_fire(session: Session) -> datetime | None:
    return session.scalars(
        select(JobRow.next_fire_at)
        .where(JobRow.enabled.is_(True), JobRow.next_fire_at.is_not(None))
        .order_by(JobRow.next_fire_at)
        .limit(1)
    ).first()


def advance(
    session: Session, job_id: int, *, expected: datetime | None, to: datetime | None
) -> bool:
    """Move the job's next fire from `expected` to `to`. False if it changed meanwhile."""
    result = session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.next_fire_at == expected)
        .values(next_fire_at=to)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def advance_many(
    session: Session, moves: Sequence[tuple[int, datetime | None, datetime | None]]
) -> None:
    """`advance` for many jobs, (job id, expected, to) each, in one executemany."""
    if moves:
        session.execute(_ADVANCE, [{"i": i, "e": e, "t": t} for i, e, t in moves])


_jobs = Base.metadata.tables["jobs"]
#: On the table, not the mapped class: the ORM's bulk-update layer costs more per row.
_ADVANCE = (
    update(_jobs)
    .where(_jobs.c.id == bindparam("i"), _jobs.c.next_fire_at == bindparam("e"))
    .values(next_fire_at=bindparam("t"))
)


def env_of(session: Session, job_id: int) -> tuple[str, dict[str, Any], bytes | None]:
    """A job's name, the `env` of its params (names, values masked) and its sealed
    values; ("", {}, None) for no such job."""
    row = session.execute(
        select(JobRow.name, JobRow.params, JobRow.secret_env).where(JobRow.id == job_id)
    ).first()
    if row is None:
        return "", {}, None
    return row.name, dict((row.params or {}).get("env") or {}), row.secret_env


def sealed_envs(session: Session) -> list[tuple[int, str, bytes]]:
    """(id, name, sealed values) of every job holding sealed environment values."""
    rows = session.execute(
        select(JobRow.id, JobRow.name, JobRow.secret_env)
        .where(JobRow.secret_env.is_not(None))
        .order_by(JobRow.name)
    )
    return [(r.id, r.name, r.secret_env) for r in rows]


def forget_env(session: Session, job_id: int, sealed: bytes) -> bool:
    """Drop the job's sealed environment values if they are still `sealed` (an edit
    meanwhile wins); the names stay in its params. False when they changed."""
    result = session.execute(
        update(JobRow)
        .where(JobRow.id == job_id, JobRow.secret_env == sealed)
        .values(secret_env=None)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def any_sealed(session: Session) -> bool:
    """Whether any job holds sealed environment values."""
    found = session.scalar(select(JobRow.id).where(JobRow.secret_env.is_not(None)).limit(1))
    return found is not None


def longest_timeout(session: Session) -> float | None:
    """The longest timeout of any job, None when none has one."""
    value = session.scalar(select(func.max(JobRow.timeout_s)))
    return None if value is None else float(value)


def watched(session: Session, *, enabled_only: bool = True) -> list[JobRow]:
    """Watched-folder jobs (the enabled ones only, by default), by id."""
    query = select(JobRow).where(JobRow.watch.is_(True)).order_by(JobRow.id)
    if enabled_only:
        query = query.where(JobRow.enabled.is_(True))
    return list(session.scalars(query))


class RunExtras(NamedTuple):
    """What a runner needs of a job beyond what it runs; the claim reads it
    (`store.claim`)."""

    hooks: dict[str, Any]  #: its hooks ({} for none)
    followed: bool  #: a job runs after it: its runs' ends request chained runs
    windows: list[str]  #: its run windows ([] for none), read in `windows_tz`
    windows_tz: str | None
    trigger: str  #: what made the run ("" when the run is gone)
