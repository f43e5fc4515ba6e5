"""the claim function, version 2, from synchub/store/sql/claim_v2.sql

`synchub_claim_v2` claims as `synchub_claim_v1` does and returns, with a claimed
run, what the runner read of its job in a query of its own right after: its hooks,
whether a job runs after it, its run windows and their zone, and the run's trigger.
Told the job of the caller's run whose end is not yet written, it claims without
waiting for that end unless the end could change its outcome.

`synchub_claim_v1` stays: during a rolling upgrade the workers of the previous
version keep calling it, until a later migration drops it. SQLite claims with
statements: nothing here.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 19:00:00.000000
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parents[2] / "sql" / "claim_v2.sql"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS synchub_claim_v2(bigint, text, timestamptz, bigint)")
