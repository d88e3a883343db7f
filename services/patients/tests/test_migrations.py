"""The migrations build exactly the tables the code declares, and can be walked back."""
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from patients.adapters.tables import metadata
from patients.runtime import MIGRATIONS_DIR
from servicekit.db import make_engine
from servicekit.migrations import alembic_config


def test_migrations_match_the_tables_and_walk_back(new_database):
    url = new_database("patients")
    config = alembic_config(MIGRATIONS_DIR, url)
    command.upgrade(config, "head")
    command.downgrade(config, "0001")
    command.upgrade(config, "head")
    engine = make_engine(url, pooled=False)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert differences == []
