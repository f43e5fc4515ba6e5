"""the claim function under a versioned name, from synchub/store/sql/claim_v1.sql

`synchub_claim_v1` does what `synchub_claim_run` (0008, recreated by 0010) does; its
text is now one file, `synchub/store/sql/claim_v1.sql`, that this migration and the
tests read, where it was a string in 0008 that 0010 patched.

Why a new name, and why the old function stays: during a rolling upgrade, workers
of the old version and of the new one claim runs from the same database side by
side. The old ones call `synchub_claim_run`, the new ones `synchub_claim_v1`; each
must find the function it was written for, so this migration adds the new one and
leaves the old one, which a later migration drops once no supported version calls
it. A later change to the claim does the same with `claim_v2.sql`, never by
editing a released file (a migration must build the same schema whenever it runs).
SQLite claims with statements: nothing here.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 16:00:00.000000
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parents[2] / "sql" / "claim_v1.sql"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql(SQL.read_text(encoding="utf-8"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS synchub_claim_v1(bigint, text, timestamptz)")
