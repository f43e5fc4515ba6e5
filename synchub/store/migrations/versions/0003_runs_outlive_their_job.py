"""runs outlive their job

A job can be deleted with its history kept: runs.job_id becomes nullable and is set
to NULL when the job goes (it was ON DELETE CASCADE), and runs.job_name records the
job's name at the run's creation, backfilled here, so a kept run still says whose it
was. run_logs and run_files still follow their run.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SCHEDULED = sa.text("trigger = 'schedule'")


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job_name", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE runs SET job_name = (SELECT jobs.name FROM jobs WHERE jobs.id = runs.job_id)"
    )
    # The partial unique index (promise 1) is dropped and made again around SQLite's
    # table rebuild, rather than trusting the rebuild's reflection to carry its WHERE.
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("uq_runs_job_fire", sqlite_where=SCHEDULED, postgresql_where=SCHEDULED)
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.alter_column("job_name", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("job_id", existing_type=Id, nullable=True)
        batch_op.drop_constraint(op.f("fk_runs_job_id_jobs"), type_="foreignkey")
        batch_op.create_foreign_key(
            op.f("fk_runs_job_id_jobs"), "jobs", ["job_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_index("ix_runs_job_name_id", ["job_name", "id"], unique=False)
    with op.batch_alter_table("runs", schema=None) as batch_op:
        # Promise 1 still holds: a kept run's NULL job_id never equals another's.
        batch_op.create_index(
            "uq_runs_job_fire",
            ["job_id", "scheduled_for"],
            unique=True,
            sqlite_where=SCHEDULED,
            postgresql_where=SCHEDULED,
        )


def downgrade() -> None:
    """Back to runs that die with their job: the kept runs of deleted jobs (with their
    logs and change reports) are deleted, since no job is left for them to belong to."""
    orphans = "SELECT id FROM runs WHERE job_id IS NULL"
    # Explicit, not by cascade: migrations run with SQLite's foreign keys off.
    op.execute(f"DELETE FROM run_logs WHERE run_id IN ({orphans})")
    op.execute(f"DELETE FROM run_files WHERE run_id IN ({orphans})")
    op.execute("DELETE FROM runs WHERE job_id IS NULL")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("uq_runs_job_fire", sqlite_where=SCHEDULED, postgresql_where=SCHEDULED)
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_job_name_id")
        batch_op.drop_constraint(op.f("fk_runs_job_id_jobs"), type_="foreignkey")
        batch_op.create_foreign_key(
            op.f("fk_runs_job_id_jobs"), "jobs", ["job_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.alter_column("job_id", existing_type=Id, nullable=False)
        batch_op.drop_column("job_name")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(
            "uq_runs_job_fire",
            ["job_id", "scheduled_for"],
            unique=True,
            sqlite_where=SCHEDULED,
            postgresql_where=SCHEDULED,
        )
