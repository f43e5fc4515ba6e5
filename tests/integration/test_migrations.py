"""Migrations build exactly the schema the models declare, and serve checks it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import IntegrityError

from synchub.core.errors import SchemaOutdated
from synchub.store.db import make_engine
from synchub.store.migrate import alembic_config, check_schema, current_revision, upgrade
from synchub.store.tables import Base, UtcDateTime
from tests.conftest import PG_ADMIN_URL, migrated_sqlite, need_service


def test_upgrade_head_yields_the_models_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent_and_check_passes(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_the_schema_check_only_reads_and_takes_no_write_lock(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """Every command checks the schema first: on SQLite it must not queue for the
    write lock (BEGIN IMMEDIATE) behind the scheduler's and the runners' writes."""
    engine = make_engine(migrated_sqlite(sqlite_template, tmp_path / "synchub.db"))
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    check_schema(engine)
    engine.dispose()
    assert [s for s in seen if s.startswith("BEGIN")] == ["BEGIN"]


def test_the_schema_check_knows_every_migration_and_the_head() -> None:
    from alembic.script import ScriptDirectory

    from synchub.store import schema
    from synchub.store.migrate import MIGRATIONS, head_revision

    walked = [r.revision for r in ScriptDirectory(str(MIGRATIONS)).walk_revisions()]
    assert tuple(reversed(walked)) == schema.REVISIONS
    assert head_revision() == schema.HEAD


def test_serving_an_empty_or_foreign_schema_is_refused_with_the_fix(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(SchemaOutdated, match="synchub init"):
        check_schema(engine)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
    with pytest.raises(SchemaOutdated, match="newer"):
        check_schema(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, for migrating step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        need_service("PostgreSQL", str(exc).splitlines()[0])
    name = f"synchub_m_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def seed_0002(engine: Engine) -> None:
    """Two jobs with history, as a synchub of schema 0002 left them: a scheduled run
    with a log and a change report, a manual run, a pending one."""
    at = T0 if engine.dialect.name == "postgresql" else T0.replace(tzinfo=None)
    with engine.begin() as conn:
        for job_id, name in ((1, "photos"), (2, "docs")):
            conn.execute(
                text(
                    "INSERT INTO jobs (id, name, kind, params, schedule_kind, tz, misfire,"
                    " queue, retries, retry_delay_s, overlap, enabled, tags, created_at,"
                    " updated_at) VALUES (:id, :name, 'rclone', '{}', 'none', 'UTC', 'once',"
                    " 'default', 0, 60, 'skip', true, '[]', :at, :at)"
                ),
                {"id": job_id, "name": name, "at": at},
            )
        for run_id, job_id, trigger, state in (
            (1, 1, "schedule", "succeeded"),
            (2, 1, "manual", "failed"),
            (3, 2, "manual", "pending"),
        ):
            conn.execute(
                text(
                    "INSERT INTO runs (id, job_id, trigger, state, scheduled_for, attempt,"
                    " queue, not_before, created_at, cancel_requested, log_dropped_lines,"
                    " log_dropped_bytes, files_dropped) VALUES (:id, :job_id, :trigger,"
                    " :state, :at, 1, 'default', :at, :at, false, 0, 0, 0)"
                ),
                {"id": run_id, "job_id": job_id, "trigger": trigger, "state": state, "at": at},
            )
        conn.execute(
            text(
                "INSERT INTO run_logs (run_id, seq, at, level, message)"
                " VALUES (1, 1, :at, 'info', 'copied a.txt')"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO run_files (run_id, path, action, size, at)"
                " VALUES (1, 'a.txt', 'copied', 3, :at)"
            ),
            {"at": at},
        )


def counts(engine: Engine) -> tuple[int, ...]:
    """How many runs, log lines and change report rows there are."""
    with engine.connect() as conn:
        return tuple(
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("runs", "run_logs", "run_files")
        )


#: What each revision after 0003 adds: not yet there when an earlier one is checked.
#: A new table is ("table", "*").
ADDED_BY = {
    "0004": {("jobs", "watch")},
    "0005": {("runs", "ix_runs_retry_of")},
    "0006": {("file_tasks", "*"), ("runs", "only_path"), ("api_tokens", "scope")},
    "0007": {("jobs", "secret_env")},
    "0010": {("runs", "dry_run"), ("runs", "allow_deletes"), ("runs", "resync")},
    "0011": {
        ("alerts", "*"),
        ("alert_outbox", "*"),
        ("runs", "alert_examined"),
        ("runs", "ix_runs_alert_unseen"),
    },
    "0012": {("run_files", "kept_at")},
    "0013": {("jobs", "files_sent")},
    "0014": {("runs", "next_step")},
    "0015": {("runs", "ix_runs_finished_at")},
    "0016": {
        ("jobs", "muted_until"),
        ("jobs", "stale_after_s"),
        ("jobs", "stale_told_for"),
        ("jobs", "long_after_s"),
        ("jobs", "watch_told"),
        ("runs", "alert_long_told"),
    },
    "0017": {
        ("jobs", "hooks"),
        ("job_chains", "*"),
        ("runs", "chained_from"),
        ("runs", "uq_runs_job_chained_from"),
    },
    "0018": {
        ("jobs", "keep_runs_s"),
        ("jobs", "keep_runs_count"),
        ("jobs", "keep_logs_s"),
        ("runs", "logs_pruned"),
        ("runs", "ix_runs_logs_kept"),
    },
    "0019": {("alerts", "digest_at"), ("alerts", "digest_sent_for")},
    "0021": {("jobs", "windows"), ("jobs", "windows_tz")},
    "0023": {("job_summaries", "*")},
    "0024": {("alerts", "pruned_delivered"), ("alerts", "pruned_failed")},
    "0025": {("jobs", "ix_jobs_watched_name"), ("runs", "ix_runs_job_id_finished_at")},
}


def without_later_revisions(diff: list[Any], at: str = "0003") -> list[Any]:
    later = set().union(*(added for rev, added in ADDED_BY.items() if rev > at))

    def added_later(d: Any) -> bool:
        if d[0] == "add_table":
            return (d[1].name, "*") in later
        if d[0] == "add_column":
            return (d[2], d[3].name) in later
        if d[0] != "add_index":
            return False
        return bool({(d[1].table.name, d[1].name), (d[1].table.name, "*")} & later)

    return [d for d in diff if not added_later(d)]


def test_0003_keeps_every_run_and_names_each_by_its_job(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)

    upgrade(engine, "0003")

    # It should keep every run, log line and change report (on SQLite the table
    # rebuild drops `runs`, which must not cascade into run_logs and run_files).
    assert counts(engine) == (3, 1, 1)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, job_id, job_name FROM runs ORDER BY id")).all()
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [tuple(r) for r in rows] == [(1, 1, "photos"), (2, 1, "photos"), (3, 2, "docs")]
    assert without_later_revisions(diff) == []
    (fk,) = inspect(engine).get_foreign_keys("runs")
    assert (fk["referred_table"], fk["options"].get("ondelete")) == ("jobs", "SET NULL")
    # It should leave SQLite's foreign keys enforced for the pool's next user.
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    # It should let a job go while its runs stay, and keep promise 1's index.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM jobs WHERE id = 1"))
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT id, job_id, job_name FROM runs ORDER BY id")).all()
    assert [tuple(r) for r in kept] == [(1, None, "photos"), (2, None, "photos"), (3, 2, "docs")]
    assert counts(engine) == (3, 1, 1)
    fire = {
        "id": 9,
        "job_id": 2,
        "at": T0 if engine.dialect.name == "postgresql" else T0.replace(tzinfo=None),
    }
    insert = text(
        "INSERT INTO runs (id, job_id, job_name, trigger, state, scheduled_for, attempt,"
        " queue, not_before, created_at, cancel_requested, log_dropped_lines,"
        " log_dropped_bytes, files_dropped) VALUES (:id, :job_id, 'docs', 'schedule',"
        " 'pending', :at, 1, 'default', :at, :at, false, 0, 0, 0)"
    )
    with engine.begin() as conn:
        conn.execute(insert, fire)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {**fire, "id": 10})
    engine.dispose()


def test_0003_downgrades_dropping_only_the_runs_of_deleted_jobs(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM jobs WHERE id = 2"))  # run 3 is kept, its job gone

    command.downgrade(alembic_config(engine), "0002")

    assert current_revision(engine) == "0002"
    assert counts(engine) == (2, 1, 1)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, job_id FROM runs ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, 1), (2, 1)]
    (fk,) = inspect(engine).get_foreign_keys("runs")
    assert fk["options"].get("ondelete") == "CASCADE"
    # It should come back up again as if nothing happened.
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0004_leaves_existing_jobs_unwatched_and_downgrades(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0003")

    upgrade(engine, "0004")

    # It should add jobs.watch, false for the jobs there were, and keep every run.
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, watch FROM jobs ORDER BY id")).all()
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [tuple(r) for r in rows] == [("photos", False), ("docs", False)]
    assert without_later_revisions(diff, at="0004") == []
    assert counts(engine) == (3, 1, 1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET watch = true WHERE id = 1"))

    command.downgrade(alembic_config(engine), "0003")

    assert current_revision(engine) == "0003"
    assert "watch" not in {c["name"] for c in inspect(engine).get_columns("jobs")}
    assert counts(engine) == (3, 1, 1)
    # It should come back up again as if nothing happened.
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0005_indexes_only_the_runs_that_are_retries(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0004")

    upgrade(engine, "0005")

    indexes = {i["name"]: i for i in inspect(engine).get_indexes("runs")}
    assert indexes["ix_runs_retry_of"]["column_names"] == ["retry_of"]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert without_later_revisions(diff, at="0005") == []
    assert counts(engine) == (3, 1, 1)
    command.downgrade(alembic_config(engine), "0004")
    assert "ix_runs_retry_of" not in {i["name"] for i in inspect(engine).get_indexes("runs")}
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0006_adds_file_tasks_and_downgrades(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0005")

    upgrade(engine, "0006")

    # It should add the tasks table and the two columns, keeping every run.
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        only = conn.execute(text("SELECT count(*) FROM runs WHERE only_path IS NULL")).scalar()
    assert without_later_revisions(diff, at="0006") == []
    assert only == 3 and counts(engine) == (3, 1, 1)

    command.downgrade(alembic_config(engine), "0005")

    assert "file_tasks" not in inspect(engine).get_table_names()
    assert "only_path" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    assert counts(engine) == (3, 1, 1)
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0007_adds_sealed_env_and_refuses_to_downgrade_while_a_job_has_one(
    blank_url: str,
) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0006")

    upgrade(engine, "0007")

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert without_later_revisions(diff, at="0007") == []
    assert counts(engine) == (3, 1, 1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET secret_env = :v WHERE name = 'photos'"), {"v": b"x"})

    # It should refuse, naming the job, and change nothing: the values would be lost.
    with pytest.raises(RuntimeError, match="photos"):
        command.downgrade(alembic_config(engine), "0006")
    assert current_revision(engine) == "0007"
    assert "secret_env" in {c["name"] for c in inspect(engine).get_columns("jobs")}

    with engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET secret_env = NULL"))
    command.downgrade(alembic_config(engine), "0006")
    assert "secret_env" not in {c["name"] for c in inspect(engine).get_columns("jobs")}
    assert counts(engine) == (3, 1, 1)
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def claim_functions(engine: Engine) -> list[str]:
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT proname FROM pg_proc WHERE proname = 'synchub_claim_run'")
            ).scalars()
        )


def test_0008_adds_the_claim_function_on_postgresql_and_downgrades(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0007")

    upgrade(engine, "0008")

    # It should add the function on PostgreSQL (SQLite claims with its statements),
    # leaving tables and runs as they were.
    postgresql = engine.dialect.name == "postgresql"
    assert claim_functions(engine) == (["synchub_claim_run"] if postgresql else [])
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0008") == []
    assert counts(engine) == (3, 1, 1)

    command.downgrade(alembic_config(engine), "0007")

    assert claim_functions(engine) == []
    assert counts(engine) == (3, 1, 1)
    upgrade(engine)
    check_schema(engine)
    assert claim_functions(engine) == (["synchub_claim_run"] if postgresql else [])
    engine.dispose()


def newest_run_id_after_deleting_the_newest(engine: Engine) -> tuple[int, int]:
    """Delete the newest run, add one: (the deleted id, the new run's id)."""
    at = T0 if engine.dialect.name == "postgresql" else T0.replace(tzinfo=None)
    with engine.begin() as conn:
        newest = conn.execute(text("SELECT max(id) FROM runs")).scalar_one()
        conn.execute(text("DELETE FROM run_logs WHERE run_id = :id"), {"id": newest})
        conn.execute(text("DELETE FROM run_files WHERE run_id = :id"), {"id": newest})
        conn.execute(text("DELETE FROM runs WHERE id = :id"), {"id": newest})
        added = conn.execute(
            text(
                "INSERT INTO runs (job_id, job_name, trigger, state, attempt, queue,"
                " not_before, created_at, cancel_requested, log_dropped_lines,"
                " log_dropped_bytes, files_dropped) VALUES (2, 'docs', 'manual', 'pending',"
                " 1, 'default', :at, :at, false, 0, 0, 0) RETURNING id"
            ),
            {"at": at},
        ).scalar_one()
    return newest, added


def test_0009_never_gives_a_deleted_runs_id_again(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0008")
    sqlite = engine.dialect.name == "sqlite"
    if not sqlite:  # the seed gave its ids by hand, past the sequence
        with engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('runs', 'id'), 3)"))
    # Before: SQLite gives the deleted newest id again (PostgreSQL never does).
    deleted, added = newest_run_id_after_deleting_the_newest(engine)
    assert (added == deleted) is sqlite

    upgrade(engine, "0009")

    # It should keep every run, log line and change report, and the schema's indexes
    # and foreign keys (the rebuild on SQLite), and never give an id twice.
    assert counts(engine) == (3, 1, 1)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0009") == []
    (fk,) = inspect(engine).get_foreign_keys("runs")
    assert (fk["referred_table"], fk["options"].get("ondelete")) == ("jobs", "SET NULL")
    indexes = {i["name"] for i in inspect(engine).get_indexes("runs")}
    assert {"uq_runs_job_fire", "ix_runs_retry_of", "ix_runs_state_not_before"} <= indexes
    deleted, added = newest_run_id_after_deleting_the_newest(engine)
    assert added > deleted
    assert counts(engine) == (3, 1, 1)

    command.downgrade(alembic_config(engine), "0008")

    assert counts(engine) == (3, 1, 1)
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0010_marks_no_existing_run_a_dry_run_and_goes_back_cleanly(blank_url: str) -> None:
    """The runs before it were real runs; the claim function returns the three flags
    after it, and 0008's shape again after a downgrade."""
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0009")

    upgrade(engine, "0010")

    with engine.connect() as conn:
        flags = conn.execute(text("SELECT DISTINCT dry_run, allow_deletes, resync FROM runs"))
        assert [tuple(f) for f in flags] == [(False, False, False)]
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0010") == []
    if engine.dialect.name == "postgresql":
        assert claim_columns(engine)[-3:] == ["c_dry_run", "c_allow_deletes", "c_resync"]

    command.downgrade(alembic_config(engine), "0009")

    assert counts(engine) == (3, 1, 1)
    assert "dry_run" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    if engine.dialect.name == "postgresql":
        assert claim_columns(engine)[-1] == "c_watch"
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0012_keeps_every_change_report_row_and_goes_back_cleanly(blank_url: str) -> None:
    """Rows written before it kept nothing; a downgrade drops only the column."""
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0011")

    upgrade(engine, "0012")

    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(text("SELECT kept_at FROM run_files"))] == [(None,)]
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0012") == []
    command.downgrade(alembic_config(engine), "0011")
    assert counts(engine) == (3, 1, 1)
    assert "kept_at" not in {c["name"] for c in inspect(engine).get_columns("run_files")}
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def claim_columns(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        names = conn.execute(
            text("SELECT proargnames FROM pg_proc WHERE proname = 'synchub_claim_run'")
        ).scalar_one()
    return [n for n in names if n.startswith("c_")]


def test_0011_counts_every_existing_run_as_seen_by_alerts_and_goes_back_cleanly(
    blank_url: str,
) -> None:
    """No alert for history: the runs before it are marked seen."""
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0010")

    upgrade(engine, "0011")

    with engine.connect() as conn:
        seen = conn.execute(text("SELECT DISTINCT alert_examined FROM runs")).scalars().all()
        assert seen == [True]
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0011") == []
    command.downgrade(alembic_config(engine), "0010")
    assert counts(engine) == (3, 1, 1)
    assert "alerts" not in inspect(engine).get_table_names()
    assert "alert_examined" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def add_job_and_task(engine: Engine, name: str) -> tuple[int, int]:
    """A watched job with one done file task: (its id, the task's id)."""
    at = T0 if engine.dialect.name == "postgresql" else T0.replace(tzinfo=None)
    with engine.begin() as conn:
        job_id = conn.execute(
            text(
                "INSERT INTO jobs (name, kind, params, schedule_kind, tz, misfire, queue,"
                " retries, retry_delay_s, overlap, enabled, tags, created_at, updated_at,"
                " watch) VALUES (:name, 'rclone', '{}', 'none', 'UTC', 'once', 'default', 0,"
                " 60, 'skip', true, '[]', :at, :at, true) RETURNING id"
            ),
            {"name": name, "at": at},
        ).scalar_one()
        task_id = conn.execute(
            text(
                "INSERT INTO file_tasks (job_id, path, path_key, state, bytes, created_at,"
                " seen_at) VALUES (:job, 'a.jpg', :key, 'done', 1, :at, :at) RETURNING id"
            ),
            {"job": job_id, "key": f"k-{name}", "at": at},
        ).scalar_one()
    return job_id, task_id


def delete_job(engine: Engine, job_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM file_tasks WHERE job_id = :id"), {"id": job_id})
        conn.execute(text("UPDATE runs SET job_id = NULL WHERE job_id = :id"), {"id": job_id})
        conn.execute(text("DELETE FROM jobs WHERE id = :id"), {"id": job_id})


def test_0013_never_gives_a_deleted_jobs_or_tasks_id_again_and_counts_sent_files(
    blank_url: str,
) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0012")
    sqlite = engine.dialect.name == "sqlite"
    if not sqlite:  # the seed gave its ids by hand, past the sequence
        with engine.begin() as conn:
            conn.execute(text("SELECT setval(pg_get_serial_sequence('jobs', 'id'), 2)"))
    # Before: SQLite gives a deleted newest job's and task's ids again.
    job, task = add_job_and_task(engine, "inbox")
    delete_job(engine, job)
    again, task_again = add_job_and_task(engine, "inbox2")
    assert (again == job, task_again == task) == (sqlite, sqlite)

    upgrade(engine, "0013")

    # It should keep every row, count the files already sent, keep the schema's
    # indexes and foreign keys (the rebuild on SQLite), and never give an id twice.
    assert counts(engine) == (3, 1, 1)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0013") == []
        sent = conn.execute(text("SELECT id, files_sent FROM jobs ORDER BY id")).all()
        assert conn.execute(text("SELECT count(*) FROM file_tasks")).scalar_one() == 1
    assert [tuple(r) for r in sent] == [(1, 0), (2, 0), (again, 1)]
    (fk,) = [
        f for f in inspect(engine).get_foreign_keys("file_tasks") if f["referred_table"] == "jobs"
    ]
    assert fk["options"].get("ondelete") == "CASCADE"
    (fk,) = inspect(engine).get_foreign_keys("runs")
    assert (fk["referred_table"], fk["options"].get("ondelete")) == ("jobs", "SET NULL")
    assert "ix_jobs_next_fire_at" in {i["name"] for i in inspect(engine).get_indexes("jobs")}
    delete_job(engine, again)
    newest, newest_task = add_job_and_task(engine, "inbox3")
    assert newest > again and newest_task > task_again

    command.downgrade(alembic_config(engine), "0012")

    assert counts(engine) == (3, 1, 1)
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0014_adds_next_step_empty_for_existing_runs_and_goes_back(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0013")

    upgrade(engine, "0014")

    with engine.connect() as conn:
        steps = conn.execute(text("SELECT DISTINCT next_step FROM runs")).scalars().all()
        assert steps == [None]
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0014") == []
    command.downgrade(alembic_config(engine), "0013")
    assert counts(engine) == (3, 1, 1)
    assert "next_step" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0015_indexes_runs_by_their_end_and_goes_back(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0014")

    upgrade(engine, "0015")

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0015") == []
    assert "ix_runs_finished_at" in {i["name"] for i in inspect(engine).get_indexes("runs")}
    command.downgrade(alembic_config(engine), "0014")
    assert counts(engine) == (3, 1, 1)
    assert "ix_runs_finished_at" not in {i["name"] for i in inspect(engine).get_indexes("runs")}
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0016_leaves_existing_jobs_unmuted_and_goes_back(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0015")

    upgrade(engine, "0016")

    with engine.connect() as conn:
        muted = conn.execute(text("SELECT DISTINCT muted_until FROM jobs")).scalars().all()
        assert muted == [None]
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0016") == []
    command.downgrade(alembic_config(engine), "0015")
    assert counts(engine) == (3, 1, 1)
    assert "muted_until" not in {c["name"] for c in inspect(engine).get_columns("jobs")}
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0017_adds_hooks_and_chains_empty_for_existing_jobs_and_goes_back(
    blank_url: str,
) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0016")

    upgrade(engine, "0017")

    with engine.connect() as conn:
        hooks = conn.execute(text("SELECT hooks FROM jobs")).scalars().all()
        assert hooks and all(h in ({}, "{}") for h in hooks)
        assert conn.execute(text("SELECT count(*) FROM job_chains")).scalar() == 0
        assert (
            conn.execute(text("SELECT count(*) FROM runs WHERE chained_from IS NOT NULL")).scalar()
            == 0
        )
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0017") == []
    command.downgrade(alembic_config(engine), "0016")
    assert counts(engine) == (3, 1, 1)
    assert "chained_from" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    assert "hooks" not in {c["name"] for c in inspect(engine).get_columns("jobs")}
    assert not inspect(engine).has_table("job_chains")
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0018_adds_the_keep_settings_and_logs_pruned_and_goes_back(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0017")

    upgrade(engine, "0018")

    with engine.connect() as conn:
        pruned = conn.execute(text("SELECT DISTINCT logs_pruned FROM runs")).scalars().all()
        assert [bool(p) for p in pruned] == [False]
        keeps = conn.execute(
            text("SELECT DISTINCT keep_runs_s, keep_runs_count, keep_logs_s FROM jobs")
        ).all()
        assert [tuple(k) for k in keeps] == [(None, None, None)]
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0018") == []
    command.downgrade(alembic_config(engine), "0017")
    assert counts(engine) == (3, 1, 1)
    assert "logs_pruned" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    assert "keep_runs_s" not in {c["name"] for c in inspect(engine).get_columns("jobs")}
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0019_adds_the_digest_settings_and_goes_back(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0018")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (name, url, url_hint, events, jobs, tags, after, "
                "created_at, updated_at) VALUES ('ops', :url, 'json://…', '[]', '[]', '[]', 1, "
                ":at, :at)"
            ),
            {"url": b"sealed", "at": datetime(2025, 6, 2, tzinfo=UTC)},
        )

    upgrade(engine, "0019")

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT digest_at, digest_sent_for FROM alerts")).all()
        assert [tuple(r) for r in rows] == [("08:00", None)]
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0019") == []
    command.downgrade(alembic_config(engine), "0018")
    assert "digest_at" not in {c["name"] for c in inspect(engine).get_columns("alerts")}
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0024_counts_nothing_pruned_for_existing_alerts_and_goes_back(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0023")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (name, url, url_hint, events, jobs, tags, after, "
                "created_at, updated_at) VALUES ('ops', :url, 'json://…', '[]', '[]', '[]', 1, "
                ":at, :at)"
            ),
            {"url": b"sealed", "at": datetime(2025, 6, 2, tzinfo=UTC)},
        )

    upgrade(engine, "0024")

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT pruned_delivered, pruned_failed FROM alerts")).all()
        assert [tuple(r) for r in rows] == [(0, 0)]
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0024") == []
    command.downgrade(alembic_config(engine), "0023")
    columns = {c["name"] for c in inspect(engine).get_columns("alerts")}
    assert "pruned_delivered" not in columns and "digest_at" in columns
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0025_indexes_the_watched_folders_and_their_runs_ends_and_goes_back(
    blank_url: str,
) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0024")

    upgrade(engine, "0025")

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    assert "ix_jobs_watched_name" in {i["name"] for i in inspect(engine).get_indexes("jobs")}
    assert "ix_runs_job_id_finished_at" in {i["name"] for i in inspect(engine).get_indexes("runs")}
    command.downgrade(alembic_config(engine), "0024")
    assert counts(engine) == (3, 1, 1)
    assert "ix_jobs_watched_name" not in {i["name"] for i in inspect(engine).get_indexes("jobs")}
    assert "ix_runs_job_id_finished_at" not in {
        i["name"] for i in inspect(engine).get_indexes("runs")
    }
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def claim_function_text(engine: Engine, name: str) -> str | None:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT prosrc FROM pg_proc WHERE proname = :n"), {"n": name})
        return found.scalar()


def test_0020_creates_the_versioned_claim_function_from_its_file_beside_the_old_one(
    blank_url: str,
) -> None:
    from synchub.store.claim import RELEASED

    v1 = "synchub_claim_v1"
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0019")

    upgrade(engine, "0020")

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0020") == []
    assert counts(engine) == (3, 1, 1)
    if engine.dialect.name == "postgresql":
        # It should be the file's function, and leave the old one to the workers of the
        # older version during a rolling upgrade.
        body = RELEASED[v1].read_text(encoding="utf-8").split("$$")[1]
        assert claim_function_text(engine, v1) == body
        assert claim_function_text(engine, "synchub_claim_run") is not None
    command.downgrade(alembic_config(engine), "0019")
    if engine.dialect.name == "postgresql":
        assert claim_function_text(engine, v1) is None
        assert claim_function_text(engine, "synchub_claim_run") is not None
    assert counts(engine) == (3, 1, 1)
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0021_adds_run_windows_and_goes_back(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0020")

    upgrade(engine, "0021")

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT windows, windows_tz FROM jobs")).all()
        # Every job as it was: no window, so it may run at any hour.
        found = {(json.dumps(json.loads(w) if isinstance(w, str) else w), tz) for w, tz in rows}
        assert found == {("[]", None)}
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0021") == []
    command.downgrade(alembic_config(engine), "0020")
    assert counts(engine) == (3, 1, 1)
    assert "windows" not in {c["name"] for c in inspect(engine).get_columns("jobs")}
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0022_creates_the_claim_function_v2_from_its_file_beside_v1(blank_url: str) -> None:
    from synchub.store.claim import FUNCTION, SQL_FILE

    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)
    upgrade(engine, "0021")

    upgrade(engine, "0022")

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0022") == []
    assert counts(engine) == (3, 1, 1)
    if engine.dialect.name == "postgresql":
        # The workers of the previous version keep claiming with v1 meanwhile.
        body = SQL_FILE.read_text(encoding="utf-8").split("$$")[1]
        assert (FUNCTION, claim_function_text(engine, FUNCTION)) == ("synchub_claim_v2", body)
        assert claim_function_text(engine, "synchub_claim_v1") is not None
    command.downgrade(alembic_config(engine), "0021")
    if engine.dialect.name == "postgresql":
        assert claim_function_text(engine, FUNCTION) is None
        assert claim_function_text(engine, "synchub_claim_v1") is not None
    assert counts(engine) == (3, 1, 1)
    upgrade(engine)
    check_schema(engine)
    engine.dispose()


def test_0023_sums_up_each_jobs_runs_from_its_history_and_goes_back(blank_url: str) -> None:
    engine = make_engine(blank_url)
    upgrade(engine, "0002")
    seed_0002(engine)  # photos: a success, then a failure; docs: a run pending
    upgrade(engine, "0022")
    at = T0 if engine.dialect.name == "postgresql" else T0.replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET schedule_kind = 'cron', cron = '0 * * * *'"))
        conn.execute(text("UPDATE runs SET finished_at = :at WHERE id IN (1, 2)"), {"at": at})
        conn.execute(text("UPDATE jobs SET enabled = false WHERE id = 2"))

    command.upgrade(alembic_config(engine), "0023")  # the migration alone

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert without_later_revisions(diff, at="0023") == []
        rows = conn.execute(
            text(
                "SELECT job_id, last_id, last_state, success_id, failing_id, stale_min_s"
                " FROM job_summaries ORDER BY job_id"
            )
        ).all()
        # It should know photos' last run (failed), its success and the failure since.
        assert [tuple(r) for r in rows] == [
            (1, 2, "failed", 1, 2, None),
            (2, None, None, None, None, None),
        ]
        success_at, failing_since, stale_from = conn.execute(
            text("SELECT success_at, failing_since, stale_from FROM job_summaries WHERE job_id = 1")
        ).one()
    as_utc = UtcDateTime().process_result_value
    dialect = engine.dialect
    assert as_utc(_parsed(success_at), dialect) == T0
    assert as_utc(_parsed(failing_since), dialect) == T0
    # Not stale within the hour after its last success, whatever its schedule.
    assert as_utc(_parsed(stale_from), dialect) == T0 + timedelta(hours=1)
    # It should keep the summary as runs end from then on, through its triggers.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE runs SET state = 'succeeded', finished_at = :at WHERE id = 3"),
            {"at": at},
        )
        assert conn.execute(
            text("SELECT last_id, success_id, failing_id FROM job_summaries WHERE job_id = 2")
        ).one() == (3, 3, None)

    command.downgrade(alembic_config(engine), "0022")
    assert "job_summaries" not in inspect(engine).get_table_names()
    with engine.begin() as conn:  # no trigger is left to write to the table gone
        conn.execute(text("UPDATE runs SET state = 'failed' WHERE id = 3"))
    assert counts(engine) == (3, 1, 1)
    upgrade(engine)
    check_schema(engine)
    with engine.connect() as conn:
        # The upgrade worked out the hourly schedules' own bound: two hours.
        assert conn.execute(text("SELECT stale_min_s FROM job_summaries")).scalars().all() == [
            7200,
            7200,
        ]
    engine.dispose()


def _parsed(value: Any) -> datetime:
    """A timestamp as a raw SQLite row gives it (text) or PostgreSQL's (a datetime)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value
