"""A fresh database for every test, on SQLite by default or on a real PostgreSQL server.

Without `ILO_MONITOR_TEST_POSTGRES` a test's database is a SQLite file in its `tmp_path`, as
before. With it set to a server URL (`postgresql+psycopg://postgres@127.0.0.1:55432/postgres`,
see `.ci/postgres.sh`), every database asked for is a new PostgreSQL database:

1. once per session, a template database is created and migrated to head (the migrations run
   once, not once per test);
2. each new (folder, name) given to `new_database_url()` is a `CREATE DATABASE ... TEMPLATE`
   of it (a file copy, fast); the same (folder, name) again gives the same database, as the
   same SQLite file would;
3. databases created during a test are dropped when it ends (`WITH (FORCE)`: engines the test
   left open, and crawl child processes, hold connections), the rest and the template when the
   session ends.

Names carry the process id and a random part, so several pytest sessions can share one server.

Tests take the `db_url` fixture, or call `new_database_url(folder, name)` for more than one
database or from helpers and module-scoped fixtures.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from monitor.db import open_database

POSTGRES_SERVER = os.environ.get("ILO_MONITOR_TEST_POSTGRES", "").strip()
_SESSION = f"ilo_t{os.getpid()}_{uuid.uuid4().hex[:6]}"


class _Postgres:
    """The server connection that creates and drops the test databases (autocommit: DDL on databases)."""

    def __init__(self, server: str) -> None:
        self.server = make_url(server)
        self.admin: Engine = create_engine(self.server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.template: str | None = None
        self.created: list[str] = []
        self.by_key: dict[tuple[str, str], str] = {}
        self._count = 0

    def url(self, database: str) -> str:
        return self.server.set(database=database).render_as_string(hide_password=False)

    def _execute(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(statement))

    def _ensure_template(self) -> str:
        if self.template is None:
            name = f"{_SESSION}_template"
            self._execute(f'CREATE DATABASE "{name}"')
            engine = open_database(self.url(name))
            engine.dispose()  # a template must have no connections when it is copied
            self.template = name
        return self.template

    def database(self, folder: Path, name: str) -> str:
        key = (str(folder), name)
        if key not in self.by_key:
            self.by_key[key] = self.create()
        return self.url(self.by_key[key])

    def create(self) -> str:
        template = self._ensure_template()
        self._count += 1
        name = f"{_SESSION}_{self._count}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)
        self.by_key = {key: value for key, value in self.by_key.items() if value != name}

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop(name)
        if self.template is not None:
            self.drop(self.template)
            self.template = None
        self.admin.dispose()


_postgres: _Postgres | None = _Postgres(POSTGRES_SERVER) if POSTGRES_SERVER else None


def on_postgres() -> bool:
    """Whether this session runs its databases on the PostgreSQL server."""
    return _postgres is not None


def new_database_url(folder: Path, name: str = "test") -> str:
    """A new, empty-of-data database: `sqlite:///<folder>/<name>.sqlite`, or a PostgreSQL copy of the template.

    The same `folder` and `name` give the same database on both (tests that reopen a database
    by its name); on SQLite the schema is created by the first `open_database`, on PostgreSQL
    it is in place already.
    """
    if _postgres is None:
        return f"sqlite:///{folder / name}.sqlite"
    return _postgres.database(folder, name)


@pytest.fixture(autouse=True)
def _drop_test_databases() -> Iterator[None]:
    # Autouse function fixtures start before the test's other function fixtures, and after
    # module-scoped ones: what appears in `created` from here on belongs to this test.
    if _postgres is None:
        yield
        return
    before = set(_postgres.created)
    yield
    for name in [n for n in _postgres.created if n not in before]:
        _postgres.drop(name)


@pytest.fixture(scope="session", autouse=True)
def _drop_session_databases() -> Iterator[None]:
    yield
    if _postgres is not None:
        _postgres.drop_all()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The URL of a fresh database for this test (see the module docstring)."""
    return new_database_url(tmp_path, "test")


@pytest.fixture(autouse=True, scope="session")
def _private_data_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests never read or write the user's own data (default database, outbox, secret).

    Commands and child crawls that fall back to the default database or outbox find them in a
    folder of the session's own; an `ILO_MONITOR_DB` or SMTP setting of the user's shell does
    not leak in.
    """
    saved = {name: os.environ.get(name) for name in _ISOLATED}
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("user-data"))
    for name in _ISOLATED[1:]:
        os.environ.pop(name, None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


_ISOLATED = (
    "XDG_DATA_HOME",
    "ILO_MONITOR_DB",
    "ILO_MONITOR_OUTBOX_DIR",
    "ILO_MONITOR_SMTP_HOST",
    "ILO_MONITOR_SECRET",
    "ILO_MONITOR_ILO_EMAILS",
    "ILO_MONITOR_OPERATOR_EMAILS",
    "ILO_MONITOR_SCRAPYD_URLS",
    "ILO_MONITOR_SCHEDULE",
    "ILO_MONITOR_BASE_URL",
)
