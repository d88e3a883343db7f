"""The migrations (`python -m web migrate`) build exactly the session table the code declares, and
can be walked back."""
from servicekit.testing import migration_drift
from web.__main__ import MIGRATIONS_DIR
from web.adapters.tables import metadata


def test_migrations_match_the_tables_and_walk_back(new_database):
    differences = migration_drift(MIGRATIONS_DIR, metadata, new_database("web"))
    assert differences == []
