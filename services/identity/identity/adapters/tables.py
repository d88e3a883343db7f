"""The identity service's tables."""
from sqlalchemy import (Boolean, CheckConstraint, Column, DateTime, ForeignKey, Index, Integer, PrimaryKeyConstraint,
                        String, Table, Uuid, func)

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

# A person who may log in; tied to their Keycloak user by Keycloak's id (the token's `sub`).
users = Table(
    "users", metadata,
    Column("id", Uuid, primary_key=True),
    Column("keycloak_id", String(64), nullable=False, unique=True),
    Column("username", String(64), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(16)),  # E.164
    Column("locale", String(8), nullable=False),
    Column("registry_admin", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
)
# Usernames are unique whatever their case, as in Keycloak.
Index("uq_users_username_lower", func.lower(users.c.username), unique=True)

HOSPITAL_ROLES = ("local_admin", "clinician", "secretary")

# One role per hospital the user belongs to.
hospital_memberships = Table(
    "hospital_memberships", metadata,
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("hospital_id", Uuid, nullable=False, index=True),
    Column("role", String(16), nullable=False),
    PrimaryKeyConstraint("user_id", "hospital_id"),
    CheckConstraint("role IN ('local_admin', 'clinician', 'secretary')", name="role"),
)

department_access = Table(
    "department_access", metadata,
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("department_id", Uuid, nullable=False, index=True),
    PrimaryKeyConstraint("user_id", "department_id"),
)

# Single-use tokens that let a user choose a password: the welcome link (activation) and the last
# step of an SMS reset. Only a SHA-256 of the token is kept; the token itself travels sealed.
set_password_tokens = Table(
    "set_password_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("purpose", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    CheckConstraint("purpose IN ('activation', 'reset')", name="purpose"),
)
