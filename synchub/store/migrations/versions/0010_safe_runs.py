"""runs know whether they are dry runs, may delete past the guard, or resync

runs.dry_run: the run changes nothing (asked for, or its job passes --dry-run); it
never counts as the job's success. runs.allow_deletes: one run let past the delete
guard and the empty-source stop. runs.resync: a bisync run asked to resync. The
claim function returns the three, and no longer counts a dry run as the success
that spares a bisync its --resync.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 07:00:00.000000
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COLUMNS = ("dry_run", "allow_deletes", "resync")
DROP = "DROP FUNCTION IF EXISTS synchub_claim_run(bigint, text, timestamptz)"


def _claim_function(*, safe: bool) -> str:
    """0008's claim function; `safe`: returning the three flags, dry runs no success."""
    spec = importlib.util.spec_from_file_location(
        "synchub_migration_0008", Path(__file__).with_name("0008_claim_function.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text: str = module.CREATE
    if not safe:
        return text
    return (
        text.replace("    c_watch boolean\n)", "    c_watch boolean,\n    c_dry_run boolean,\n"
                     "    c_allow_deletes boolean,\n    c_resync boolean\n)")
        .replace(
            "RETURNING runs.attempt, runs.only_path INTO c_attempt, c_only_path;",
            "RETURNING runs.attempt, runs.only_path, runs.dry_run, runs.allow_deletes,\n"
            "          runs.resync\n"
            "         INTO c_attempt, c_only_path, c_dry_run, c_allow_deletes, c_resync;",
        )
        .replace(
            "done.state = 'succeeded');",
            "done.state = 'succeeded'\n                                AND NOT done.dry_run);",
        )
    )  # fmt: skip


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column(
            "runs", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP)
        op.execute(_claim_function(safe=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DROP)
        op.execute(_claim_function(safe=False))
    for name in COLUMNS:
        op.execute(f"ALTER TABLE runs DROP COLUMN {name}")
