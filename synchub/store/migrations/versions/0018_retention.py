"""run history prunes itself: per-job keep settings, runs whose logs are gone

jobs.keep_runs_s, jobs.keep_runs_count: the job's own rule for which runs stay
(a period or a number of runs; both null: the settings' defaults).
jobs.keep_logs_s: how long its runs' logs and change reports stay (null: default).
runs.logs_pruned: its log and change report were pruned (the run itself stays);
the partial index finds the runs whose logs may still have to go.

SQLite's incremental vacuum, which lets the file shrink, cannot be switched on
inside this migration's transaction: `synchub.store.migrate.upgrade` does it after.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 12:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("keep_runs_s", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("keep_runs_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("keep_logs_s", sa.Integer(), nullable=True))
    op.add_column(
        "runs",
        sa.Column("logs_pruned", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_runs_logs_kept",
        "runs",
        ["job_id", "id"],
        sqlite_where=sa.text("logs_pruned = false"),
        postgresql_where=sa.text("logs_pruned = false"),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_logs_kept", table_name="runs")
    op.execute("ALTER TABLE runs DROP COLUMN logs_pruned")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("keep_logs_s")
        batch_op.drop_column("keep_runs_count")
        batch_op.drop_column("keep_runs_s")
