"""The migrations build exactly the tables the code declares, and can be walked back."""
from notifications.adapters.tables import metadata
from notifications.runtime import MIGRATIONS_DIR
from servicekit.testing import migration_drift


def test_migrations_match_the_tables_and_walk_back(new_database):
    differences = migration_drift(MIGRATIONS_DIR, metadata, new_database("notifications"))
    assert differences == []
