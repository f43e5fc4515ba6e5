"""index the watched folders' page

The console's `/folders` (and the rclone-sync-hub console's folder list) shows a
page of watched jobs by name, each with when its last run ended. A partial index
holds the watched jobs' names only, so a page reads its own rows rather than
walking every job's name; an index on each job's runs by their end answers "when
did its last run end" with one probe, however long its history.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 00:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_jobs_watched_name",
        "jobs",
        ["name"],
        sqlite_where=sa.text("watch IS 1"),
        postgresql_where=sa.text("watch IS true"),
    )
    op.create_index("ix_runs_job_id_finished_at", "runs", ["job_id", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_job_id_finished_at", table_name="runs")
    op.drop_index("ix_jobs_watched_name", table_name="jobs")
