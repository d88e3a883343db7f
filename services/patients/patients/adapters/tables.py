"""The patients service's tables."""
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, Table, Uuid

from servicekit.db import new_metadata
from servicekit.messaging.tables import define_messaging_tables

metadata = new_metadata()
messaging = define_messaging_tables(metadata)

regions = Table(
    "regions", metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
)

hospitals = Table(
    "hospitals", metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("region_code", String(32), ForeignKey("regions.code"), nullable=False, index=True),
)

departments = Table(
    "departments", metadata,
    Column("id", Uuid, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("hospital_id", Uuid, ForeignKey("hospitals.id"), nullable=False, index=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("revision", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
