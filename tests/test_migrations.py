"""The Alembic migrations build exactly the schema the models declare, and run down and up again."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import new_database_url

from monitor.db import alembic_config, open_database
from monitor.schema import metadata


def test_migrated_schema_equals_the_models(tmp_path: Path) -> None:
    engine = open_database(new_database_url(tmp_path, "schema"))
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata())
    assert differences == [], "models changed without a migration: " + repr(differences)


def test_downgrade_to_base_and_upgrade_again(tmp_path: Path) -> None:
    engine = open_database(new_database_url(tmp_path, "roundtrip"))
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    open_database(new_database_url(tmp_path, "roundtrip"))  # upgrades again
