"""alert events beyond failure and recovery: mute, stale, long, watch

jobs.muted_until: `synchub job mute NAME 2h` silences a job's alerts until then.
jobs.stale_after_s, jobs.long_after_s: the job's thresholds (None: derived).
jobs.stale_told_for: the success a `stale` alert was told for (once per change).
runs.alert_long_told: a `long` alert was told for this run (once per run).
jobs.watch_told: a `watch` alert was told for the folder's present problem.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 12:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("muted_until", Stamp, nullable=True))
    op.add_column("jobs", sa.Column("stale_after_s", sa.Integer, nullable=True))
    op.add_column("jobs", sa.Column("stale_told_for", Stamp, nullable=True))
    op.add_column("jobs", sa.Column("long_after_s", sa.Integer, nullable=True))
    op.add_column(
        "jobs", sa.Column("watch_told", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column(
        "runs",
        sa.Column("alert_long_told", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    for column in ("muted_until", "stale_after_s", "stale_told_for", "long_after_s", "watch_told"):
        op.execute(f"ALTER TABLE jobs DROP COLUMN {column}")
    op.execute("ALTER TABLE runs DROP COLUMN alert_long_told")
