"""index runs by when they ended

The console's charts count the runs that ended each day: an index on
`finished_at` lets the count of today's runs read today's runs only.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 12:40:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_finished_at", "runs", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_finished_at", table_name="runs")
