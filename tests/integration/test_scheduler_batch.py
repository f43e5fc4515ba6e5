"""Many jobs due at the same instant fire in one batch (issue 16): each fire time
still gets one run, durable before it is handed over, and a pass costs the same
statements however many jobs are due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, event, func, select, update

from synchub.core.clock import FakeClock
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import jobs as job_store
from synchub.store import runs as run_store
from synchub.store.db import reading, transaction
from synchub.store.tables import JobRow, RunRow
from tests.support.harness import CollectingExecutor, Harness


def add_jobs(svc: Services, n: int, every: str = "1m") -> None:
    for i in range(n):
        svc.jobs.add(f"j{i:04d}", JobFields(kind="scripted", params={"result": "ok"}, every=every))


def run_count(svc: Services) -> int:
    with reading(svc.sessions) as session:
        return int(session.scalar(select(func.count(RunRow.id))) or 0)


def test_many_jobs_due_at_once_each_get_one_run_in_one_pass(
    svc: Services, clock: FakeClock
) -> None:
    add_jobs(svc, 30)
    h = Harness(svc, clock)
    clock.advance(60)
    ran = h.step()
    assert len(ran) == 30 and run_count(svc) == 30
    with reading(svc.sessions) as session:
        runs = list(session.scalars(select(RunRow)))
    assert {r.job_name for r in runs} == {f"j{i:04d}" for i in range(30)}
    assert {r.scheduled_for for r in runs} == {clock.now()}
    assert h.step() == []  # the jobs moved on to their next fire time


def test_a_second_scheduler_firing_the_same_times_adds_no_run(
    svc: Services, clock: FakeClock
) -> None:
    """Two schedulers that both see the jobs due (a lapsed lease, a replayed pass)
    insert one run per fire time between them: the batch insert skips what the
    unique (job, fire time) index holds already, and hands none of it over twice."""
    add_jobs(svc, 20)
    a, b = Harness(svc, clock, "node-a"), Harness(svc, clock, "node-b")
    clock.advance(60)
    with reading(svc.sessions) as session:
        due_at = {j.id: j.next_fire_at for j in job_store.due(session, clock.now(), 100)}
    a.scheduler.fire()
    # Put half the jobs back as node-b saw them before node-a's pass committed.
    with transaction(svc.sessions) as session:
        for job_id in sorted(due_at)[:10]:
            session.execute(
                update(JobRow).where(JobRow.id == job_id).values(next_fire_at=due_at[job_id])
            )
    b.scheduler.fire()
    assert len(a.executor.submitted) == 20
    assert b.executor.submitted == []
    assert run_count(svc) == 20


def test_the_batch_insert_returns_only_the_runs_it_made(svc: Services, clock: FakeClock) -> None:
    add_jobs(svc, 3)
    at = clock.now()
    with transaction(svc.sessions) as session:
        jobs = [job_store.get(session, f"j{i:04d}") for i in range(3)]
        j0, j1, j2 = (j for j in jobs if j is not None)
        first = run_store.create_scheduled(session, [(j0, at, None)], at)
        both = run_store.create_scheduled(session, [(j, at, None) for j in (j0, j1, j2)], at)
    assert set(first) == {(j0.id, at)}
    assert set(both) == {(j1.id, at), (j2.id, at)}
    assert run_count(svc) == 3


@dataclass
class DurableCheck(CollectingExecutor):
    """Looks each run up in a fresh session when it is handed over."""

    svc: Services | None = None
    seen: dict[int, str] = field(default_factory=dict)

    def submit(self, run_id: int, queue: str, at: datetime | None = None) -> None:
        assert self.svc is not None
        with reading(self.svc.sessions) as session:
            run = session.get(RunRow, run_id)
            self.seen[run_id] = "missing" if run is None else run.state
        super().submit(run_id, queue, at)


def test_each_run_is_committed_queued_before_it_is_handed_over(
    svc: Services, clock: FakeClock
) -> None:
    add_jobs(svc, 15)
    executor = DurableCheck(svc=svc)
    h = Harness(svc, clock, executor=executor)
    clock.advance(60)
    h.scheduler.fire()
    assert len(executor.seen) == 15 and set(executor.seen.values()) == {"queued"}


def statements_of_a_pass(svc: Services, clock: FakeClock, jobs: int) -> int:
    add_jobs(svc, jobs, every="1h")  # all due at the same instant, an hour on
    h = Harness(svc, clock)
    h.executor.slots = 1000
    clock.advance(3600)
    count = 0

    def counted(*_: object) -> None:
        nonlocal count
        count += 1

    engine = svc.db
    event.listen(engine, "before_cursor_execute", counted)
    try:
        h.scheduler.fire()
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert len(h.executor.submitted) == jobs
    return count


def test_a_pass_makes_as_many_statements_for_100_due_jobs_as_for_5(
    svc: Services, clock: FakeClock
) -> None:
    few = statements_of_a_pass(svc, clock, 5)
    with transaction(svc.sessions) as session:  # start over: the same shape, 100 jobs
        session.execute(delete(RunRow))
        session.execute(delete(JobRow))
    many = statements_of_a_pass(svc, clock, 100)
    assert many == few, (few, many)
