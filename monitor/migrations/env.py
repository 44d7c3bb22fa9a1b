"""Alembic environment: runs migrations on the connection that `monitor.db.upgrade` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from monitor.db import make_engine
from monitor.schema import metadata

config = context.config
target_metadata = metadata()


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
