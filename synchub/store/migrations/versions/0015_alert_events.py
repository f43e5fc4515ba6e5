"""jobs can be muted: no alert is queued for them until then

jobs.muted_until: `synchub job mute NAME 2h` silences a job's alerts until then.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 12:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("jobs", sa.Column("muted_until", Stamp, nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE jobs DROP COLUMN muted_until")
