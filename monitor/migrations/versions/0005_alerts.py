"""alerts: the outbox, what was alerted to whom, suppressed addresses, and the digest day and hour of profiles

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 23:15:04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressed_addresses",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("created_at", monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email"),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=340), nullable=False),
        sa.Column("period", sa.String(length=100), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", monitor.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", monitor.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", monitor.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["recipient_id"], ["recipients.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint("recipient", "period", name="uq_alert_outbox_recipient_period"),
    )
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_outbox_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_outbox_recipient_id"), ["recipient_id"], unique=False)
        batch_op.create_index("ix_alert_outbox_status_next", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "alerted_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=340), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=12), nullable=False),
        sa.Column("notice_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_at", monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outbox_id"], ["alert_outbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alerted_items", schema=None) as batch_op:
        batch_op.create_index("ix_alerted_items_notice", ["notice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerted_items_outbox_id"), ["outbox_id"], unique=False)
        batch_op.create_index("ix_alerted_items_recipient_notice", ["recipient", "notice_id"], unique=False)

    # Server defaults give existing profiles the documented schedule: Monday, 07:00.
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_weekday", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("digest_hour", sa.Integer(), server_default="7", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("digest_hour")
        batch_op.drop_column("digest_weekday")

    with op.batch_alter_table("alerted_items", schema=None) as batch_op:
        batch_op.drop_index("ix_alerted_items_recipient_notice")
        batch_op.drop_index(batch_op.f("ix_alerted_items_outbox_id"))
        batch_op.drop_index("ix_alerted_items_notice")

    op.drop_table("alerted_items")
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_outbox_status_next")
        batch_op.drop_index(batch_op.f("ix_alert_outbox_recipient_id"))
        batch_op.drop_index(batch_op.f("ix_alert_outbox_company_id"))

    op.drop_table("alert_outbox")
    op.drop_table("suppressed_addresses")
