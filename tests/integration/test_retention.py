"""Run history prunes itself: what each job keeps, what goes with a run, dry runs,
per-job rules applied to what exists, and (SQLite) a file that shrinks. On both
databases, with the frozen clock: a run's age is the clock's, never the wall's."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.orm import Session

from synchub.core.clock import FakeClock
from synchub.core.errors import InvalidFields, InvalidInput, JobNotFound
from synchub.core.runs import RunState, Trigger
from synchub.services import Services
from synchub.services.jobs.fields import JobFields
from synchub.store import audit
from synchub.store import jobs as job_store
from synchub.store import retention as store
from synchub.store.db import make_engine, reading, transaction
from synchub.store.tables import (
    AuditRow,
    FileTaskRow,
    RunFileRow,
    RunLogRow,
    RunRow,
)
from tests.support.kinds import ScriptedKind

DAY = timedelta(days=1)


def add(svc: Services, name: str, **kw: Any) -> int:
    return int(svc.jobs.add(name, JobFields(kind="scripted", params={}, **kw)).id)


def seed(
    svc: Services,
    job: str,
    at: datetime,
    states: Sequence[RunState],
    *,
    lines: int = 2,
    files: int = 1,
    retry_of: int | None = None,
    text: str = "x",
) -> list[int]:
    """Runs of `job` created at `at` (one per state), each with `lines` log lines and
    `files` change-report rows; ended runs as the alert pass leaves them (examined)."""
    ids: list[int] = []
    with transaction(svc.sessions) as session:
        row = job_store.get(session, job)
        job_id = row.id if row is not None else None
        for state in states:
            run = RunRow(
                job_id=job_id, job_name=job, trigger=Trigger.RETRY if retry_of else Trigger.MANUAL,
                state=state.value, queue="default", not_before=at, created_at=at,
                finished_at=at if state not in (RunState.RUNNING, RunState.PENDING) else None,
                retry_of=retry_of, attempt=2 if retry_of else 1,
                alert_examined=state not in (RunState.RUNNING, RunState.PENDING),
            )  # fmt: skip
            session.add(run)
            session.flush()
            ids.append(run.id)
        if lines:
            session.execute(
                insert(RunLogRow),
                [
                    {"run_id": i, "seq": n, "at": at, "level": "info", "message": text}
                    for i in ids
                    for n in range(lines)
                ],
            )
        if files:
            session.execute(
                insert(RunFileRow),
                [
                    {"run_id": i, "path": f"f{n}", "action": "copied", "at": at}
                    for i in ids
                    for n in range(files)
                ],
            )
    return ids


def run_ids(svc: Services) -> list[int]:
    with reading(svc.sessions) as session:
        return list(session.scalars(select(RunRow.id).order_by(RunRow.id)))


def lines_of(svc: Services, run_id: int) -> int:
    with reading(svc.sessions) as session:
        count = session.scalar(
            select(func.count()).select_from(RunLogRow).where(RunLogRow.run_id == run_id)
        )
        return int(count or 0)


def totals(svc: Services) -> tuple[int, int, int, int]:
    with reading(svc.sessions) as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (RunRow, RunLogRow, RunFileRow, FileTaskRow)
        )


def no_pause(_: float) -> None:
    """Tests prune at full speed: nothing else waits for the database."""


def test_the_defaults_keep_90_days_the_last_100_and_the_last_success_and_failure(
    svc: Services, clock: FakeClock
) -> None:
    add(svc, "nightly")
    now = clock.now()
    failure = seed(svc, "nightly", now - 200 * DAY, [RunState.FAILED])
    stuck = seed(svc, "nightly", now - 200 * DAY, [RunState.RUNNING])
    old = seed(svc, "nightly", now - 200 * DAY, [RunState.SUCCEEDED] * 128)
    recent = seed(svc, "nightly", now - 10 * DAY, [RunState.SUCCEEDED] * 5)

    pruned = svc.retention.prune(pause=no_pause)

    # It should keep the last 100 (5 recent and 95 old), the only failure however old,
    # and the run that has not ended; the other 33 old runs go.
    kept = failure + stuck + old[33:] + recent
    assert run_ids(svc) == kept
    assert (pruned.runs, pruned.log_lines - 2 * 95, pruned.report_rows - 95) == (33, 66, 33)
    # It should drop the logs of runs kept but older than 30 days, not of the
    # failure (still explained), the running run, or the recent ones.
    assert pruned.logs_of_runs == 95
    assert [lines_of(svc, i) for i in (failure[0], stuck[0], old[33], recent[0])] == [2, 2, 0, 2]
    shown = svc.runs.show(old[33])
    assert (shown.state, shown.logs_pruned) == ("succeeded", True)
    assert svc.runs.show(recent[0]).logs_pruned is False
    # It should find nothing more to do at once.
    again = svc.retention.prune(pause=no_pause)
    assert (again.runs, again.logs_of_runs, again.log_lines) == (0, 0, 0)


def test_time_passing_prunes_what_grew_old(svc: Services, clock: FakeClock) -> None:
    add(svc, "hourly", keep_runs="30d")
    first = seed(svc, "hourly", clock.now(), [RunState.SUCCEEDED, RunState.SUCCEEDED])
    clock.advance(30 * 86400 - 1)
    assert svc.retention.prune(pause=no_pause).runs == 0
    later = seed(svc, "hourly", clock.now(), [RunState.SUCCEEDED])
    clock.advance(2)
    # It should take the run just past 30 days, keeping the last success (a later one).
    assert svc.retention.prune(pause=no_pause).runs == 2
    assert run_ids(svc) == later
    assert first[0] not in run_ids(svc)  # the oldest went too


def test_a_dry_run_counts_what_would_go_and_changes_nothing(
    svc: Services, clock: FakeClock
) -> None:
    job_id = add(svc, "nightly", keep_runs="10")
    now = clock.now()
    seed(svc, "nightly", now - 100 * DAY, [RunState.SUCCEEDED] * 30, lines=3, files=2)
    tasks = [_task(now - 40 * DAY), _task(now - 1 * DAY)]
    with transaction(svc.sessions) as session:
        session.execute(insert(FileTaskRow), [{**t, "job_id": job_id} for t in tasks])
    before = totals(svc)

    dry = svc.retention.prune_now(dry_run=True)

    assert totals(svc) == before
    assert dry.dry_run
    with reading(svc.sessions) as session:
        assert audit.about(session, "runs") == []
    real = svc.retention.prune(pause=no_pause)
    assert (dry.runs, dry.log_lines, dry.report_rows, dry.logs_of_runs, dry.tasks) == (
        real.runs,
        real.log_lines,
        real.report_rows,
        real.logs_of_runs,
        real.tasks,
    )
    assert (real.runs, real.tasks) == (20, 1)


def _task(finished: datetime, state: str = "done") -> dict[str, Any]:
    return {
        "job_id": None,
        "path": f"p{finished.timestamp()}{state}",
        "path_key": f"{finished.timestamp()}{state}",
        "state": state,
        "bytes": 0,
        "created_at": finished,
        "seen_at": finished,
        "finished_at": finished,
    }


def test_done_file_tasks_go_after_30_days_and_others_stay(svc: Services, clock: FakeClock) -> None:
    job_id = add(svc, "inbox")
    now = clock.now()
    rows = [
        _task(now - 31 * DAY),
        _task(now - 29 * DAY),
        _task(now - 31 * DAY, "failed"),
        _task(now - 31 * DAY, "pending"),
    ]
    with transaction(svc.sessions) as session:
        session.execute(insert(FileTaskRow), [{**r, "job_id": job_id} for r in rows])
    assert svc.retention.prune(pause=no_pause).tasks == 1
    with reading(svc.sessions) as session:
        states = sorted(session.scalars(select(FileTaskRow.state)))
    assert states == ["done", "failed", "pending"]


def test_a_jobs_own_rule_applies_to_the_runs_it_already_has(
    svc: Services, clock: FakeClock
) -> None:
    add(svc, "chatty")
    now = clock.now()
    ids = seed(svc, "chatty", now - 5 * DAY, [RunState.SUCCEEDED] * 20)
    assert svc.retention.prune(pause=no_pause).runs == 0  # 90 days or the last 100

    view = svc.jobs.edit("chatty", JobFields(keep_runs="5", keep_logs="2d"))

    assert (view.keep_runs, view.keep_logs) == ("5", "2d")
    pruned = svc.retention.prune(pause=no_pause)
    assert run_ids(svc) == ids[-5:]
    # It should keep logs for 2 days: all five kept runs are 5 days old, and only the
    # last success keeps its log.
    assert pruned.logs_of_runs == 4
    assert [lines_of(svc, i) for i in ids[-5:]] == [0, 0, 0, 0, 2]
    # It should go back to the defaults with "default".
    back = svc.jobs.edit("chatty", JobFields(keep_runs="default", keep_logs=""))
    assert (back.keep_runs, back.keep_logs) == (None, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("keep_runs", "0"),  # keeps nothing: refused, not "keep none"
        ("keep_runs", "abc"),
        ("keep_runs", "-5"),
        ("keep_logs", "14"),  # a period needs its unit
        ("keep_logs", "0d"),
        ("keep_runs", "10m"),  # shorter than an hour
    ],
)
def test_bad_keep_settings_are_refused_and_change_nothing(
    svc: Services, field: str, value: str
) -> None:
    add(svc, "nightly", keep_runs="500")
    with pytest.raises((InvalidInput, InvalidFields)) as caught:
        svc.jobs.edit("nightly", JobFields(**{field: value}))
    assert field.replace("_", "-") in str(caught.value)
    assert svc.jobs.show("nightly").keep_runs == "500"
    with pytest.raises((InvalidInput, InvalidFields)):
        add(svc, "other", **{field: value})
    with pytest.raises(JobNotFound):
        svc.jobs.show("other")


def test_a_retry_chain_is_never_cut(svc: Services, clock: FakeClock) -> None:
    add(svc, "flaky", keep_runs="30d")
    now = clock.now()
    # An old chain whose last attempt is recent (made below): the whole chain stays.
    first = seed(svc, "flaky", now - 60 * DAY, [RunState.FAILED])
    second = seed(svc, "flaky", now - 59 * DAY, [RunState.FAILED], retry_of=first[0])
    # An old chain, all of it old: it goes whole.
    gone = seed(svc, "flaky", now - 50 * DAY, [RunState.TIMED_OUT])
    gone += seed(svc, "flaky", now - 50 * DAY, [RunState.SUCCEEDED], retry_of=gone[0])
    # The last failure, kept whatever its age.
    last_failure = seed(svc, "flaky", now - 40 * DAY, [RunState.LOST])
    third = seed(svc, "flaky", now - 1 * DAY, [RunState.SUCCEEDED], retry_of=second[0])

    assert svc.retention.prune(pause=no_pause).runs == 2
    assert run_ids(svc) == first + second + last_failure + third


def test_a_deleted_jobs_kept_runs_are_pruned_by_the_defaults(
    svc: Services, clock: FakeClock
) -> None:
    add(svc, "gone")
    now = clock.now()
    ids = seed(svc, "gone", now - 200 * DAY, [RunState.SUCCEEDED] * 103)
    svc.jobs.remove("gone", keep_history=True)
    with pytest.raises(JobNotFound):
        svc.retention.prune_now(job="nothing-by-this-name")

    pruned = svc.retention.prune_now(job="gone")

    assert pruned.runs == 3
    assert run_ids(svc) == ids[3:]


def test_a_manual_prune_is_audited_with_what_went(svc: Services, clock: FakeClock) -> None:
    add(svc, "nightly", keep_runs="1")
    seed(svc, "nightly", clock.now() - 100 * DAY, [RunState.SUCCEEDED] * 3)
    svc.retention.prune_now(job="nightly")
    with reading(svc.sessions) as session:
        events = session.scalars(select(AuditRow).where(AuditRow.action == "runs.prune")).all()
    assert [(e.actor, e.target) for e in events] == [("alice", "nightly")]
    assert events[0].after is not None and events[0].after["runs"] == 2


def test_a_run_being_retried_since_it_was_chosen_stays(svc: Services, clock: FakeClock) -> None:
    """A retry made between choosing runs and deleting them (`runs retry` of an old
    run) keeps the run it retries: the delete itself checks."""
    add(svc, "nightly")
    chosen = seed(svc, "nightly", clock.now() - 100 * DAY, [RunState.FAILED, RunState.FAILED])
    seed(svc, "nightly", clock.now(), [RunState.PENDING], retry_of=chosen[0])
    with transaction(svc.sessions) as session:
        assert store.delete_runs(session, chosen) == 1
    assert chosen[0] in run_ids(svc)
    assert chosen[1] not in run_ids(svc)


def test_sqlite_gives_the_space_back(
    tmp_path: Path, clock: FakeClock, scripted: ScriptedKind
) -> None:
    from cryptography.fernet import Fernet

    from synchub.config import Settings
    from synchub.store.db import make_engine
    from synchub.store.migrate import upgrade
    from synchub.store.retention import checkpoint

    url = f"sqlite:///{tmp_path / 'synchub.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(home=tmp_path, database_url=url, secret_key=Fernet.generate_key().decode())
    svc = Services(settings, clock=clock, db=engine, engines={"scripted": scripted})
    try:
        add(svc, "big")
        seed(svc, "big", clock.now() - 100 * DAY, [RunState.SUCCEEDED] * 400, lines=20,
             text="y" * 400)  # fmt: skip
        checkpoint(svc.db)
        path = tmp_path / "synchub.db"
        grown = path.stat().st_size
        assert grown > 3_000_000

        pruned = svc.retention.prune(pause=no_pause)

        assert pruned.runs == 300
        shrunk = path.stat().st_size
        assert shrunk < grown * 0.4, (grown, shrunk)
    finally:
        svc.close()


def test_an_old_sqlite_file_is_rewritten_once_for_incremental_vacuum(tmp_path: Path) -> None:
    import sqlite3

    from synchub.store.db import make_engine
    from synchub.store.migrate import upgrade

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # as synchub before 0015 made it
        conn.execute("CREATE TABLE before_0015 (id INTEGER PRIMARY KEY)")
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA auto_vacuum").scalar() == 2
    finally:
        engine.dispose()


def test_only_the_leading_scheduler_prunes(svc: Services, clock: FakeClock) -> None:
    from synchub.processes.node import Node

    add(svc, "nightly", keep_runs="1")
    seed(svc, "nightly", clock.now() - 100 * DAY, [RunState.SUCCEEDED] * 3)
    leader, other = Node(svc, workers=1, name="node-a"), Node(svc, workers=1, name="node-b")
    try:
        assert leader.scheduler is not None and leader.scheduler.hold_lease()
        assert other.scheduler is not None and not other.scheduler.hold_lease()
        # It should leave the history alone on a node that does not lead.
        assert other.prune_once() is None
        assert len(run_ids(svc)) == 3
        pruned = leader.prune_once()
        assert pruned is not None and pruned.runs == 2
        # It should stop at once when the node stops (or loses the lead).
        seed(svc, "nightly", clock.now() - 100 * DAY, [RunState.SUCCEEDED] * 3)
        leader.stop_event.set()
        assert leader.prune_once() is None
        assert len(run_ids(svc)) == 4
    finally:
        leader.stop(0)
        other.stop(0)


def test_doctor_reports_a_retention_backlog(svc: Services, clock: FakeClock) -> None:
    from synchub.services.doctor import Level

    add(svc, "nightly", keep_runs="1")
    found = svc.doctor._retention()
    assert (found.level, found.message) == (Level.OK, "no run waits to be pruned")
    seed(svc, "nightly", clock.now() - 100 * DAY, [RunState.SUCCEEDED] * 4)
    found = svc.doctor._retention()
    assert found.level is Level.OK
    assert found.message == "3 run(s) will go at the next pruning pass"
    # It should call for a person when nothing prunes them.
    off = Services(svc.settings.model_copy(update={"prune_every": 0.0}), clock=clock, db=svc.db)
    found = off.doctor._retention()
    assert found.level is Level.PROBLEM
    assert "background is off" in found.message and "runs prune" in str(found.fix)
    svc.retention.prune_now()
    assert off.doctor._retention().level is Level.OK


def test_doctor_says_pruning_is_behind_when_runs_pile_up(svc: Services, clock: FakeClock) -> None:
    from synchub.services.doctor import Level

    svc.retention.backlog_limit = 3  # instead of seeding 10,000 runs
    add(svc, "nightly", keep_runs="1")
    seed(svc, "nightly", clock.now() - 100 * DAY, [RunState.SUCCEEDED] * 5)
    found = svc.doctor._retention()
    assert found.level is Level.PROBLEM
    assert found.message.startswith("pruning is behind: 3+ runs wait")
    assert "scheduler leads" in str(found.fix)


def statistics_of(svc: Services) -> set[str]:
    """The pruned tables PostgreSQL's planner has statistics of."""
    with reading(svc.sessions) as session:
        found = session.scalars(
            text("SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = current_schema()")
        )
        return set(found) & {"runs", "run_logs", "run_files"}


def test_postgresql_has_the_planners_statistics_before_it_prunes(
    svc: Services, clock: FakeClock
) -> None:
    """Without them (autovacuum off, a bulk load it has not reached) the planner takes
    a batch's run ids to match most of a table and reads all of it for each batch."""
    add(svc, "nightly", keep_runs="10")
    seed(svc, "nightly", clock.now() - DAY, [RunState.SUCCEEDED] * 20)
    if svc.db.dialect.name != "postgresql":
        assert store.analyze_unknown(svc.db) == []  # SQLite picks its indexes without
        return
    assert statistics_of(svc) == set()
    assert svc.retention.prune(pause=no_pause).runs == 10
    assert statistics_of(svc) == {"runs", "run_logs", "run_files"}
    assert store.analyze_unknown(svc.db) == ["file_tasks"]  # empty: none to gather


def _rows_of(plan: dict[str, Any], alias: str) -> int:
    """Rows the plan's scans of `alias` returned, over all their loops."""
    own = plan["Actual Rows"] * plan["Actual Loops"] if plan.get("Alias") == alias else 0
    return int(own) + sum(_rows_of(p, alias) for p in plan.get("Plans", []))


def test_a_batchs_retry_check_reads_the_batchs_retries_only(db_url: str, clock: FakeClock) -> None:
    """Each batch asks whether a run of it has a retry outside it: PostgreSQL must
    look up the batch's ids, not walk every retry in the table once per batch."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL plan")
    engine = make_engine(db_url)
    at = clock.now()
    runs = [
        {"id": i, "job_name": "a" if i % 10 == 0 else "b", "trigger": "manual",
         "state": "failed", "queue": "default", "not_before": at, "created_at": at,
         "retry_of": i - 1 if i % 5 == 1 and (i - 1) % 10 else None}
        for i in range(1, 10_001)
    ]  # fmt: skip
    runs.append({**runs[0], "id": 10_001, "retry_of": 5000})  # a batch's run retried
    batch = list(range(10, 10_001, 10))
    plans: list[Any] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.startswith("DELETE FROM runs"):
            cursor.execute("SAVEPOINT explained")
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters)
            plans.append(cursor.fetchone()[0][0]["Plan"])
            cursor.execute("ROLLBACK TO SAVEPOINT explained")

    try:
        with engine.begin() as conn:
            conn.execute(insert(RunRow), runs)
            conn.exec_driver_sql("ANALYZE runs")
        event.listen(engine, "before_cursor_execute", explain)
        with Session(engine) as session, session.begin():
            assert store.delete_runs(session, batch) == len(batch) - 1  # 5000 stays
        assert _rows_of(plans[0], "runs_1") <= 1
    finally:
        event.remove(engine, "before_cursor_execute", explain)
        engine.dispose()
