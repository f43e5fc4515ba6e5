"""run ids are never given twice on SQLite

A run's id is its Celery task id, and its local pool's key: a message still on the
broker for a run that was deleted (with its job) must not find a new run under the
same id, claim it, and start it on the deleted run's queue. PostgreSQL's sequence
never gives an id twice. SQLite gives the largest id again once its row is deleted,
unless the table is AUTOINCREMENT, which takes a rebuild of `runs`. Ids deleted
before this migration may still come back once; none deleted after it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEDULED = sa.text("trigger = 'schedule'")
RETRIES = sa.text("retry_of IS NOT NULL")


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # The partial indexes are dropped and made again around the rebuild, rather than
    # trusting the rebuild's reflection to carry their WHERE (as in 0003).
    op.drop_index("uq_runs_job_fire", table_name="runs")
    op.drop_index("ix_runs_retry_of", table_name="runs")
    with op.batch_alter_table(
        "runs", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
    op.create_index(
        "uq_runs_job_fire",
        "runs",
        ["job_id", "scheduled_for"],
        unique=True,
        sqlite_where=SCHEDULED,
    )
    op.create_index("ix_runs_retry_of", "runs", ["retry_of"], sqlite_where=RETRIES)
