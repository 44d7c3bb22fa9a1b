"""web: ILO users, notes on notices, digest approvals, ILO decisions on companies per notice

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 23:43:23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_approvals",
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=False),
        sa.Column("approved_at", monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("week"),
    )
    op.create_table(
        "ilo_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", monitor.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "company_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("created_at", monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "notice_id", name="uq_company_decisions_company_notice"),
    )
    with op.batch_alter_table("company_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_company_decisions_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_company_decisions_notice_id"), ["notice_id"], unique=False)

    op.create_table(
        "notice_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notice_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_notes_notice_id"), ["notice_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notice_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_notes_notice_id"))

    op.drop_table("notice_notes")
    with op.batch_alter_table("company_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_company_decisions_notice_id"))
        batch_op.drop_index(batch_op.f("ix_company_decisions_company_id"))

    op.drop_table("company_decisions")
    op.drop_table("ilo_users")
    op.drop_table("digest_approvals")
