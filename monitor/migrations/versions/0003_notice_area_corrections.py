"""notices: area corrections and classifier version

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        # server_default fills the rows that exist already; new rows get [] from the ORM.
        batch_op.add_column(sa.Column("area_corrections", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("classifier_version", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("classifier_version")
        batch_op.drop_column("area_corrections")
