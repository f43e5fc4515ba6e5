"""index the retries of runs

A page of runs shows a failed run that has a retry as RETRY: the check looks
runs up by `retry_of`. A partial index holds only the runs that are retries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_runs_retry_of",
        "runs",
        ["retry_of"],
        sqlite_where=sa.text("retry_of IS NOT NULL"),
        postgresql_where=sa.text("retry_of IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_retry_of", table_name="runs")
