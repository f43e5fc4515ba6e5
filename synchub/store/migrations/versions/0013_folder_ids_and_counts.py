"""job and file task ids are never given twice on SQLite; jobs count files sent

The rclone-sync-hub console names a folder (a watched job) and a task by its id:
a page opened before a deletion must not delete a new job or task that took the
deleted one's id. PostgreSQL's sequences never give an id twice; SQLite gives the
largest again once its row is deleted, unless the table is AUTOINCREMENT, which
takes a rebuild of `jobs` and `file_tasks` (as 0009 did for `runs`). Ids deleted
before this migration may still come back once; none deleted after it.

jobs.files_sent: the files a watched job's runs sent, the console's "uploaded"
figure, which deleting tasks must not lower. It starts at the tasks done now.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("jobs", "file_tasks")
SENT_SO_FAR = sa.text(
    "UPDATE jobs SET files_sent = (SELECT count(*) FROM file_tasks"
    " WHERE file_tasks.job_id = jobs.id AND file_tasks.state = 'done')"
)


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(
            sa.Column("files_sent", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(SENT_SO_FAR)
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("files_sent")


def _rebuild(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass
