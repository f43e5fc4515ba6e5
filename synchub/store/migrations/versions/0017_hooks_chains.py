"""jobs have hooks, and run after other jobs

jobs.hooks: the commands run before and after a job's runs, by event ({} for none).
job_chains: a job runs after another ends (the downstream job's `--after`), one
row per link; its upstream is a foreign key without cascade, so an upstream job is
not removed while links name it. runs.chained_from: the upstream run whose end
requested a chained run, unique per job, so that run requests it once.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("hooks", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "job_chains",
        sa.Column("job_id", Id, nullable=False),
        sa.Column("upstream_id", Id, nullable=False),
        sa.Column("on", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_chains_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["upstream_id"], ["jobs.id"], name="fk_job_chains_upstream_id_jobs"
        ),
        sa.PrimaryKeyConstraint("job_id", "upstream_id", name="pk_job_chains"),
    )
    op.create_index("ix_job_chains_upstream_id", "job_chains", ["upstream_id"])
    op.add_column("runs", sa.Column("chained_from", Id, nullable=True))
    op.create_index(
        "uq_runs_job_chained_from",
        "runs",
        ["job_id", "chained_from"],
        unique=True,
        sqlite_where=sa.text("chained_from IS NOT NULL"),
        postgresql_where=sa.text("chained_from IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_runs_job_chained_from", table_name="runs")
    op.execute("ALTER TABLE runs DROP COLUMN chained_from")
    op.drop_index("ix_job_chains_upstream_id", table_name="job_chains")
    op.drop_table("job_chains")
    op.execute("ALTER TABLE jobs DROP COLUMN hooks")
