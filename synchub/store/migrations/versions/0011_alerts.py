"""alerts: where to send them, the outbox of messages, and which ended runs were seen

A run is looked at for alerts once (`runs.alert_examined`), in the same transaction
that queues its messages, so a crash neither loses nor repeats an alert. Runs that
ended before this migration count as seen: no alert for history.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UNSEEN = sa.text("alert_examined = false")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("url", sa.LargeBinary, nullable=False),  # sealed: URLs hold credentials
        sa.Column("url_hint", sa.String(80), nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("jobs", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("after", sa.Integer, nullable=False),
        sa.Column("last_result", sa.Text),
        sa.Column("last_sent_at", Stamp),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("name", name="uq_alerts_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "alert_id",
            Id,
            sa.ForeignKey("alerts.id", ondelete="CASCADE", name="fk_alert_outbox_alert_id_alerts"),
            nullable=False,
        ),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("job_name", sa.String(64), nullable=False),
        sa.Column("run_id", Id),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", Stamp, nullable=False),
        sa.Column("claimed_until", Stamp),
        sa.Column("sent_at", Stamp),
        sa.Column("error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_alert_outbox"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_alert_outbox_due",
        "alert_outbox",
        ["next_attempt_at"],
        sqlite_where=sa.text("sent_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.add_column(
        "runs",
        sa.Column("alert_examined", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.execute("UPDATE runs SET alert_examined = true")
    op.create_index(
        "ix_runs_alert_unseen", "runs", ["id"], sqlite_where=UNSEEN, postgresql_where=UNSEEN
    )


def downgrade() -> None:
    op.drop_index("ix_runs_alert_unseen", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("alert_examined")
    op.drop_index("ix_alert_outbox_due", table_name="alert_outbox")
    op.drop_table("alert_outbox")
    op.drop_table("alerts")
