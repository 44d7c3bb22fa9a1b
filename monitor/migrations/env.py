"""Alembic environment: runs migrations on the connection that `monitor.db.upgrade` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import monitor.crawl.runs  # registers crawl_runs on Base.metadata
import monitor.matching.models  # noqa: F401  (registers the tables on Base.metadata)
from monitor.db import make_engine
from monitor.models import Base

config = context.config
target_metadata = Base.metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode recreates tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:  # `alembic` run by hand: use ILO_MONITOR_DB
    with make_engine().begin() as own_connection:
        run(own_connection)
