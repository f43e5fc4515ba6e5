"""Job chains: which job runs after which (the downstream job's links), and the
chained runs a run's end requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, exists, select
from sqlalchemy.orm import Session

from synchub.core.runs import Trigger
from synchub.store import runs as run_store
from synchub.store.tables import JobChainRow, JobRow, RunRow


def set_links(session: Session, job_id: int, links: Sequence[tuple[int, str]]) -> None:
    """Make (upstream id, on) the job's links, replacing those it had."""
    session.execute(delete(JobChainRow).where(JobChainRow.job_id == job_id))
    session.add_all(JobChainRow(job_id=job_id, upstream_id=up, on=on) for up, on in links)


def upstreams(session: Session, job_id: int) -> list[tuple[str, str]]:
    """(upstream name, on) of the jobs `job_id` runs after, by name."""
    rows = session.execute(
        select(JobRow.name, JobChainRow.on)
        .join(JobChainRow, JobChainRow.upstream_id == JobRow.id)
        .where(JobChainRow.job_id == job_id)
        .order_by(JobRow.name)
    )
    return [(r.name, r.on) for r in rows]


def downstreams(session: Session, job_id: int) -> list[tuple[str, str]]:
    """(downstream name, on) of the jobs that run after `job_id`, by name."""
    rows = session.execute(
        select(JobRow.name, JobChainRow.on)
        .join(JobChainRow, JobChainRow.job_id == JobRow.id)
        .where(JobChainRow.upstream_id == job_id)
        .order_by(JobRow.name)
    )
    return [(r.name, r.on) for r in rows]


#: (name, on) pairs of one job's links, by name.
Links = list[tuple[str, str]]


def _all_links_query() -> Select[tuple[int, int, str, str, str]]:
    up, down = JobRow.__table__.alias("up"), JobRow.__table__.alias("down")
    return (
        select(JobChainRow.job_id, JobChainRow.upstream_id, JobChainRow.on,
               up.c.name.label("upstream"), down.c.name.label("downstream"))
        .join(up, up.c.id == JobChainRow.upstream_id)
        .join(down, down.c.id == JobChainRow.job_id)
    )  # fmt: skip


# Made once: aliasing the jobs table copies each of its columns, which cost a
# listing more than reading the (usually few) links did.
_ALL_LINKS = _all_links_query()


def all_links(session: Session) -> dict[int, tuple[Links, Links]]:
    """(upstreams, downstreams) by job id of every job that has any, in one query:
    what `upstreams` and `downstreams` give one job, for a listing of many."""
    rows = session.execute(_ALL_LINKS)
    links: dict[int, tuple[Links, Links]] = {}
    for r in rows:
        links.setdefault(r.job_id, ([], []))[0].append((r.upstream, r.on))
        links.setdefault(r.upstream_id, ([], []))[1].append((r.downstream, r.on))
    for after, chained_by in links.values():
        after.sort()
        chained_by.sort()
    return links


def graph(session: Session) -> dict[str, list[str]]:
    """Every job's upstream names by its name: the graph a cycle check walks."""
    up = JobRow.__table__.alias("up")
    rows = session.execute(
        select(JobRow.name, up.c.name.label("upstream"))
        .join(JobChainRow, JobChainRow.job_id == JobRow.id)
        .join(up, up.c.id == JobChainRow.upstream_id)
    )
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row.name, []).append(row.upstream)
    return found


def has_downstream(session: Session, job_id: int) -> bool:
    return bool(session.scalar(select(exists().where(JobChainRow.upstream_id == job_id))))


def request_after(
    session: Session, run_id: int, choices: Sequence[str], *, now: datetime
) -> list[int]:
    """Request a run of each enabled job that runs after run `run_id`'s job on one
    of `choices`, chained from that run; the ids of the runs created. A dry run
    requests none (it is no outcome of the job's work). A second call for the same
    run creates none: the unique (job, chained_from) index decides."""
    if not choices:
        return []
    upstream = select(RunRow.job_id).where(RunRow.id == run_id, ~RunRow.dry_run).scalar_subquery()
    jobs = session.scalars(
        select(JobRow)
        .join(JobChainRow, JobChainRow.job_id == JobRow.id)
        .where(
            JobChainRow.upstream_id == upstream,
            JobChainRow.on.in_(choices),
            JobRow.enabled.is_(True),
        )
        .order_by(JobRow.name)
    )
    created = []
    for job in list(jobs):
        new_id = run_store.create(session, job, trigger=Trigger.CHAIN, now=now, chained_from=run_id)
        if new_id is not None:
            created.append(new_id)
    return created
