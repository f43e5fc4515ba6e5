"""each job's summary of its ended runs, kept by triggers

job_summaries: one row per job (made by a trigger on jobs) holding its newest ended
run that was not skipped and its state, its newest success (not a dry run) and when
it ended, the first failure after that success, and `stale_from`, the time before
which its schedule cannot make it stale and the time after which it always
does. Triggers on `runs` write it as runs end
(and are inserted ended), whoever ends them: the runner, the claim function, the
reaper, a cancel. The claim (a run starting) does not touch it. Deleting runs leaves
it alone: a pruned success stays the job's last success. A schedule's change sets
`stale_from` back to one hour after the last success and forgets the other; the
code then works out the schedule's own bounds (core.staleness.stale_after_bounds)
into `stale_min_s` and `stale_max_s`.

The upgrade fills it from the runs there are, a few index probes per job.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

ENDED = "('succeeded', 'failed', 'timed_out', 'lost', 'cancelled')"
FAILED = "('failed', 'timed_out', 'lost')"
#: MIN_STALE: no schedule makes a job stale sooner
HOUR_S = 3600


def _plus_seconds(dialect: str, at: str, seconds: str) -> str:
    """SQL for the instant `seconds` (an SQL integer) after `at` (an SQL timestamp)."""
    if dialect == "postgresql":
        return f"({at} + make_interval(secs => {seconds}))"
    # SQLite keeps timestamps as text; this keeps its form, to the millisecond.
    return f"strftime('%Y-%m-%d %H:%M:%f', {at}, '+' || ({seconds}) || ' seconds')"


def _sqlite_triggers() -> list[str]:
    stale = _plus_seconds("sqlite", "NEW.finished_at", f"coalesce(stale_min_s, {HOUR_S})")
    surely = _plus_seconds("sqlite", "NEW.finished_at", "stale_max_s")
    body = f"""
BEGIN
    UPDATE job_summaries SET last_id = NEW.id, last_state = NEW.state
    WHERE job_id = NEW.job_id AND (last_id IS NULL OR last_id < NEW.id);
    UPDATE job_summaries SET
        success_id = NEW.id,
        success_at = NEW.finished_at,
        stale_from = CASE WHEN stale_from IS NULL OR NEW.finished_at IS NULL
            THEN stale_from ELSE {stale} END,
        surely_stale_from = CASE WHEN NEW.finished_at IS NULL THEN surely_stale_from
            WHEN stale_max_s IS NULL THEN NULL ELSE {surely} END,
        (failing_id, failing_since) = (
            SELECT id, coalesce(finished_at, created_at) FROM runs
            WHERE job_id = NEW.job_id AND id > NEW.id AND state IN {FAILED}
            ORDER BY id LIMIT 1)
    WHERE job_id = NEW.job_id AND NEW.state = 'succeeded' AND NOT NEW.dry_run
        AND (success_id IS NULL OR success_id < NEW.id);
    UPDATE job_summaries SET
        failing_id = NEW.id, failing_since = coalesce(NEW.finished_at, NEW.created_at)
    WHERE job_id = NEW.job_id AND NEW.state IN {FAILED}
        AND (success_id IS NULL OR success_id < NEW.id)
        AND (failing_id IS NULL OR failing_id > NEW.id);
END"""
    schedule = "schedule_kind, cron, tz, every_s, anchor_at"
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in schedule.split(", "))
    first = _plus_seconds("sqlite", "NEW.created_at", str(HOUR_S))
    again = _plus_seconds("sqlite", "coalesce(success_at, NEW.created_at)", str(HOUR_S))
    return [
        "CREATE TRIGGER job_summary_run_inserted AFTER INSERT ON runs"
        f" WHEN NEW.job_id IS NOT NULL AND NEW.state IN {ENDED}" + body,
        "CREATE TRIGGER job_summary_run_ended AFTER UPDATE OF state ON runs"
        " WHEN NEW.job_id IS NOT NULL AND OLD.state IS NOT NEW.state"
        f" AND NEW.state IN {ENDED}" + body,
        f"""CREATE TRIGGER job_summary_job_added AFTER INSERT ON jobs
BEGIN
    INSERT INTO job_summaries (job_id, stale_from) VALUES (
        NEW.id, CASE WHEN NEW.schedule_kind = 'none' THEN NULL ELSE {first} END);
END""",
        f"""CREATE TRIGGER job_summary_schedule_changed AFTER UPDATE OF {schedule} ON jobs
WHEN {changed}
BEGIN
    UPDATE job_summaries SET stale_min_s = NULL, stale_max_s = NULL, surely_stale_from = NULL,
        stale_from = CASE WHEN NEW.schedule_kind = 'none' THEN NULL ELSE {again} END
    WHERE job_id = NEW.id;
END""",
    ]


def _postgresql_triggers() -> list[str]:
    stale = _plus_seconds("postgresql", "NEW.finished_at", f"coalesce(stale_min_s, {HOUR_S})")
    surely = _plus_seconds("postgresql", "NEW.finished_at", "stale_max_s")
    first = _plus_seconds("postgresql", "NEW.created_at", str(HOUR_S))
    again = _plus_seconds("postgresql", "coalesce(success_at, NEW.created_at)", str(HOUR_S))
    schedule = "schedule_kind, cron, tz, every_s, anchor_at"
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in schedule.split(", "))
    return [
        f"""CREATE FUNCTION synchub_job_summary_run() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE job_summaries SET last_id = NEW.id, last_state = NEW.state
    WHERE job_id = NEW.job_id AND (last_id IS NULL OR last_id < NEW.id);
    IF NEW.state = 'succeeded' AND NOT NEW.dry_run THEN
        UPDATE job_summaries SET
            success_id = NEW.id,
            success_at = NEW.finished_at,
            stale_from = CASE WHEN stale_from IS NULL OR NEW.finished_at IS NULL
                THEN stale_from ELSE {stale} END,
            surely_stale_from = CASE WHEN NEW.finished_at IS NULL THEN surely_stale_from
                WHEN stale_max_s IS NULL THEN NULL ELSE {surely} END,
            (failing_id, failing_since) = (
                SELECT r.id, coalesce(r.finished_at, r.created_at) FROM runs r
                WHERE r.job_id = NEW.job_id AND r.id > NEW.id AND r.state IN {FAILED}
                ORDER BY r.id LIMIT 1)
        WHERE job_id = NEW.job_id AND (success_id IS NULL OR success_id < NEW.id);
    ELSIF NEW.state IN {FAILED} THEN
        UPDATE job_summaries SET
            failing_id = NEW.id, failing_since = coalesce(NEW.finished_at, NEW.created_at)
        WHERE job_id = NEW.job_id
            AND (success_id IS NULL OR success_id < NEW.id)
            AND (failing_id IS NULL OR failing_id > NEW.id);
    END IF;
    RETURN NULL;
END $$""",
        "CREATE TRIGGER job_summary_run_inserted AFTER INSERT ON runs FOR EACH ROW"
        f" WHEN (NEW.job_id IS NOT NULL AND NEW.state IN {ENDED})"
        " EXECUTE FUNCTION synchub_job_summary_run()",
        "CREATE TRIGGER job_summary_run_ended AFTER UPDATE OF state ON runs FOR EACH ROW"
        " WHEN (NEW.job_id IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state"
        f" AND NEW.state IN {ENDED}) EXECUTE FUNCTION synchub_job_summary_run()",
        f"""CREATE FUNCTION synchub_job_summary_job_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_summaries (job_id, stale_from) VALUES (
        NEW.id, CASE WHEN NEW.schedule_kind = 'none' THEN NULL ELSE {first} END);
    RETURN NULL;
END $$""",
        "CREATE TRIGGER job_summary_job_added AFTER INSERT ON jobs FOR EACH ROW"
        " EXECUTE FUNCTION synchub_job_summary_job_added()",
        f"""CREATE FUNCTION synchub_job_summary_schedule_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE job_summaries SET stale_min_s = NULL, stale_max_s = NULL, surely_stale_from = NULL,
        stale_from = CASE WHEN NEW.schedule_kind = 'none' THEN NULL ELSE {again} END
    WHERE job_id = NEW.id;
    RETURN NULL;
END $$""",
        f"CREATE TRIGGER job_summary_schedule_changed AFTER UPDATE OF {schedule} ON jobs"
        f" FOR EACH ROW WHEN ({changed})"
        " EXECUTE FUNCTION synchub_job_summary_schedule_changed()",
    ]


def _backfill(dialect: str) -> list[str]:
    """Each job's summary from its runs: a few index probes per job (ix_runs_job_id_id)."""
    newest = (
        "(SELECT id FROM runs WHERE runs.job_id = jobs.id AND {where} ORDER BY id DESC LIMIT 1)"
    )
    not_dry = "NOT dry_run"
    last_ok = "coalesce(success_id, 0)"
    stale = _plus_seconds(dialect, "coalesce(job_summaries.success_at, jobs.created_at)", "3600")
    return [
        "INSERT INTO job_summaries (job_id, last_id, success_id) SELECT jobs.id, "
        + newest.format(where=f"state IN {ENDED}")
        + ", "
        + newest.format(where=f"state = 'succeeded' AND {not_dry}")
        + " FROM jobs",
        "UPDATE job_summaries SET"
        " last_state = (SELECT state FROM runs WHERE runs.id = last_id),"
        " success_at = (SELECT finished_at FROM runs WHERE runs.id = success_id),"
        " failing_id = (SELECT id FROM runs WHERE runs.job_id = job_summaries.job_id"
        f" AND runs.id > {last_ok} AND state IN {FAILED} ORDER BY id LIMIT 1)",
        "UPDATE job_summaries SET"
        " failing_since = (SELECT coalesce(finished_at, created_at) FROM runs"
        " WHERE runs.id = failing_id),"
        f" stale_from = (SELECT CASE WHEN jobs.schedule_kind = 'none' THEN NULL ELSE {stale} END"
        " FROM jobs WHERE jobs.id = job_summaries.job_id)",
    ]


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.create_table(
        "job_summaries",
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("last_state", sa.String(length=16), nullable=True),
        sa.Column(
            "success_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "failing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stale_min_s", sa.Integer(), nullable=True),
        sa.Column("stale_max_s", sa.Integer(), nullable=True),
        sa.Column("stale_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("surely_stale_from", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name="fk_job_summaries_job_id_jobs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", name="pk_job_summaries"),
    )
    op.create_index("ix_job_summaries_last_state", "job_summaries", ["last_state"])
    op.create_index("ix_job_summaries_stale_from", "job_summaries", ["stale_from"])
    op.create_index("ix_job_summaries_surely_stale_from", "job_summaries", ["surely_stale_from"])
    if dialect == "postgresql":
        # Without statistics the planner may walk the runs' primary key backwards for
        # each job instead of probing (job_id, id): minutes instead of seconds.
        bind.exec_driver_sql("ANALYZE runs")
    for statement in _backfill(dialect):
        bind.exec_driver_sql(statement)
    triggers = _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers()
    for statement in triggers:
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for trigger, table in (
        ("job_summary_run_inserted", "runs"),
        ("job_summary_run_ended", "runs"),
        ("job_summary_job_added", "jobs"),
        ("job_summary_schedule_changed", "jobs"),
    ):
        on = f" ON {table}" if bind.dialect.name == "postgresql" else ""
        bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}{on}")
    if bind.dialect.name == "postgresql":
        for function in ("run", "job_added", "schedule_changed"):
            bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS synchub_job_summary_{function}()")
    op.drop_index("ix_job_summaries_surely_stale_from", table_name="job_summaries")
    op.drop_index("ix_job_summaries_stale_from", table_name="job_summaries")
    op.drop_index("ix_job_summaries_last_state", table_name="job_summaries")
    op.drop_table("job_summaries")
