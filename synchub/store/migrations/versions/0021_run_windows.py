"""jobs keep to run windows

jobs.windows: the hours of the week its automatic runs may run, as written
("Mon-Fri 22:00-06:00"); [] for always. jobs.windows_tz: the zone they are read in
(the cron schedule's, else the default zone when they were saved); null without.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("windows", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("windows_tz", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("windows_tz")
        batch_op.drop_column("windows")
