"""change-report rows say where a kept version went

run_files.kept_at: for a file a run deleted or overwrote at a destination whose job
keeps versions, where the old version now is (remote:path/.synchub-trash/...). A
restore reads it; nothing else changes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("run_files", sa.Column("kept_at", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE run_files DROP COLUMN kept_at")
