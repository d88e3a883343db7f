"""The identity service's tables."""
from sqlalchemy import Boolean, Column, DateTime, Integer, String, Table, Uuid

from servicekit.db import new_metadata
from servicekit.messaging.tables import define_messaging_tables

metadata = new_metadata()
messaging = define_messaging_tables(metadata)

# identity's own copy of the organisation, kept from patients.department.upserted.
departments = Table(
    "departments", metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("hospital_id", Uuid, nullable=False, index=True),
    Column("hospital_code", String(32), nullable=False),
    Column("hospital_name", String(200), nullable=False),
    Column("region_code", String(32), nullable=False),
    Column("region_name", String(200), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
