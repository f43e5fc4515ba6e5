"""runs say what follows their end

runs.next_step: after a failure, a timeout or a loss, the retry the policy made
(its attempt and time) or why there is none.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("next_step", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE runs DROP COLUMN next_step")
