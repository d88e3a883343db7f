"""The notifications service's tables."""
from servicekit.db import new_metadata
from servicekit.messaging.tables import define_messaging_tables

metadata = new_metadata()
messaging = define_messaging_tables(metadata)
