"""Database access: engines, sessions, the UTC datetime type and schema migrations.

Everything goes through SQLAlchemy 2.0 and Alembic so that SQLite (the embedded default) and
PostgreSQL behave the same; nothing here is specific to one of them except the SQLite pragmas
and the PostgreSQL connection pool.

PostgreSQL (`postgresql://` or `postgresql+psycopg://`, psycopg 3) is for more than one machine
or process: a scheduler, several crawl processes, senders and the web app each hold their own
pool (`POSTGRES_POOL`); the server's `max_connections` (100 by default) must cover them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from monitor.errors import ConfigurationError
from monitor.settings import default_db_url

__all__ = ["UTCDateTime", "default_db_url", "make_engine", "session_factory", "session_scope", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Per process. The scheduler runs at most 4 jobs at once (monitor.scheduling.service.WORKERS)
# plus its lock heartbeat; a crawl process uses one connection for storing and one for its run
# record. 5 kept + 5 on demand covers both with room; a request beyond that waits `pool_timeout`.
# pre_ping replaces connections the server dropped (restart, idle timeout) instead of failing a
# job; recycle keeps them younger than typical proxy/firewall idle limits.
POSTGRES_POOL: dict[str, Any] = {
    "pool_size": 5,
    "max_overflow": 5,
    "pool_timeout": 30,
    "pool_pre_ping": True,
    "pool_recycle": 1800,
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite's DATETIME silently drops the offset even with `timezone=True`; storing naive UTC
    there and re-attaching UTC on the way out makes SQLite behave like PostgreSQL. Naive input is
    refused: a time without a zone is a bug upstream, not something to guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the CLI read while a crawl writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 64 MiB of page cache per connection instead of SQLite's 2 MiB, so that the indexes of a
    # database of a hundred thousand notices stay in memory between batches.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url` (default: `ILO_MONITOR_DB` or the embedded SQLite file)."""
    url = url or default_db_url()
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) not in ("", ":memory:"):
            path.parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = POSTGRES_POOL if url.startswith("postgresql") else {}
    try:
        engine = create_engine(url, future=True, **options)
    except Exception as error:  # bad URL or missing driver: say which setting to fix
        raise ConfigurationError(
            f"cannot use database URL {url!r} (ILO_MONITOR_DB / --db): {error}"
        ) from error
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; run by every command that opens the DB)."""
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: rows stay readable after commit (the CLI prints them afterwards).
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def open_database(url: str | None = None) -> Engine:
    """An engine with the schema upgraded: what every command starts with."""
    engine = make_engine(url)
    upgrade(engine)
    return engine
