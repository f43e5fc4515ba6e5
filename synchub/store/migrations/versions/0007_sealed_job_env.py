"""seal the values of a job's environment

A command job's `env` often carries credentials (a restic password, a token).
Its values move to `jobs.secret_env`, sealed with the secret key like remote
secrets; `params.env` keeps the names with masked values. Jobs stored before
this revision keep their values in `params` until their next edit seals them
(a migration has no secret key); every view masks them meanwhile.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("secret_env", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # The sealed values cannot be opened here (no key), and a job left with masks
    # would run its command with them: refuse rather than lose them.
    sealed = op.get_bind().execute(sa.text("SELECT name FROM jobs WHERE secret_env IS NOT NULL"))
    names = sorted(sealed.scalars())
    if names:
        raise RuntimeError(
            "Cannot downgrade below 0007: these jobs keep sealed environment values, which "
            f"the older schema cannot hold: {', '.join(names)}. Remove their env first."
        )
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("secret_env")
