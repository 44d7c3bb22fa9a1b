"""scheduler: the single-instance lock table and the health findings of crawl runs

APScheduler's own job table (`apscheduler_jobs`) is created by its SQLAlchemyJobStore when
`ilo-monitor serve` first starts, not here.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 23:21:01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", monitor.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("health", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("health")
    op.drop_table("scheduler_locks")
