"""daily alert digests

alerts.digest_at: the digest's time of day (HH:MM, in the default zone).
alerts.digest_sent_for: when the last digest queued was due; a conditional write
on it queues each day's digest once, however many schedulers run.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 13:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "alerts",
        sa.Column("digest_at", sa.String(5), nullable=False, server_default="08:00"),
    )
    op.add_column("alerts", sa.Column("digest_sent_for", sa.DateTime(timezone=True)))


def downgrade() -> None:
    for column in ("digest_at", "digest_sent_for"):
        op.execute(f"ALTER TABLE alerts DROP COLUMN {column}")
