"""procedure aliases: the other keys a procedure is known by

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 00:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "procedure_aliases",
        sa.Column("alias", sa.String(length=400), nullable=False),
        sa.Column("procedure_key", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("alias"),
    )
    with op.batch_alter_table("procedure_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedure_aliases_procedure_key"), ["procedure_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("procedure_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedure_aliases_procedure_key"))
    op.drop_table("procedure_aliases")
