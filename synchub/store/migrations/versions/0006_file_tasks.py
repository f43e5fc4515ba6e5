"""file tasks, single-file runs and scoped tokens

- file_tasks: each file a watched folder must transfer, from seen to done or failed.
- runs.only_path: a run that transfers one file of its job (a task's retry).
- api_tokens.scope: a token usable only under one path prefix (e.g. compat-rsh).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 18:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import synchub.store.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, synchub.store.tables.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "file_tasks",
        sa.Column("id", Id, nullable=False),
        sa.Column("job_id", Id, nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("path_key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("run_id", Id, nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("speed_bps", sa.Double(), nullable=True),
        sa.Column("eta_s", sa.Double(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _when("created_at", False),
        _when("seen_at", False),
        _when("started_at", True),
        _when("finished_at", True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_file_tasks_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_file_tasks_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_tasks")),
        sa.UniqueConstraint("job_id", "path_key", name=op.f("uq_file_tasks_job_id")),
    )
    for column in ("created_at", "finished_at", "run_id", "state"):
        op.create_index(op.f(f"ix_file_tasks_{column}"), "file_tasks", [column], unique=False)
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=32), nullable=True))
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("only_path", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("only_path")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("scope")
    op.drop_table("file_tasks")
