"""alerts count what pruning took from their outbox

alerts.pruned_delivered, alerts.pruned_failed: the delivery attempts (delivered,
failed) of the alert's messages that pruning deleted from the outbox, so that the
counter made of them never goes down. 0 for existing alerts: nothing was pruned.

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-06 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.add_column(
            sa.Column("pruned_delivered", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("pruned_failed", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_column("pruned_failed")
        batch_op.drop_column("pruned_delivered")
