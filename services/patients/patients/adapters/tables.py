"""The patients service's tables."""
from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Column, DateTime, ForeignKey, Index, Integer,
                        LargeBinary, String, Table, UniqueConstraint, Uuid, text)

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


# --- Patients ------------------------------------------------------------------------------------
#
# The CPR number is stored encrypted (AES-GCM) and found by its keyed hash (HMAC-SHA256): the
# unique index on the hash is what makes two departments creating the same CPR at once end with
# one patient. Ids are random UUIDs: nothing about a patient can be read from a URL.

def _where(condition: str) -> dict:
    """A partial index on both PostgreSQL and SQLite."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


patients = Table(
    "patients", metadata,
    Column("id", Uuid, primary_key=True),
    Column("cpr_hash", LargeBinary(32), nullable=False, unique=True),
    Column("cpr_encrypted", LargeBinary, nullable=False),
    Column("name", String(200), nullable=False),
    Column("diagnosis_group", String(8), nullable=False),
    # The newest status the patient platform reported (by its own timestamp); history below.
    Column("platform_status", String(8), nullable=True),
    Column("platform_status_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(64), nullable=False),
    CheckConstraint("diagnosis_group IN ('RA', 'PsA', 'axSpA', 'other')", name="diagnosis_group"),
    CheckConstraint("platform_status IN ('active', 'inactive')", name="platform_status"),
)

# A patient's registrations at departments, current (ended_at IS NULL) and past.
#
# A current registration carries a copy of the patient's name, diagnosis group and platform status
# (kept in step by patient_repository): a department's board, list and name search then read one
# index of that department alone, not 20,000 rows scattered over a table of a million patients.
registrations = Table(
    "registrations", metadata,
    Column("id", Uuid, primary_key=True),
    Column("patient_id", Uuid, ForeignKey("patients.id"), nullable=False, index=True),
    Column("department_id", Uuid, ForeignKey("departments.id"), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("registered_by", String(64), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("ended_by", String(64), nullable=True),
    Column("ended_reason", String(16), nullable=True),
    Column("transfer_id", Uuid, nullable=True),   # the approved transfer that started or ended it
    Column("patient_name", String(200), nullable=False),
    Column("diagnosis_group", String(8), nullable=False),
    Column("platform_status", String(8), nullable=True),
    Index("uq_registrations_active", "patient_id", "department_id", unique=True, **_where("ended_at IS NULL")),
    # The board: counts by diagnosis group and platform status, from the index alone.
    Index("ix_registrations_board", "department_id", "diagnosis_group", "platform_status",
          **_where("ended_at IS NULL")),
    # The department's patient list by name, and the search by part of a name.
    Index("ix_registrations_by_name", "department_id", "patient_name", "patient_id", "platform_status",
          **_where("ended_at IS NULL")),
)

platform_status_reports = Table(
    "platform_status_reports", metadata,
    Column("id", Uuid, primary_key=True),
    Column("patient_id", Uuid, ForeignKey("patients.id"), nullable=False),
    Column("status", String(8), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),   # the platform's clock
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("reported_by", String(64), nullable=False),
    Column("applied", Boolean, nullable=False),   # false: older than the status held when it came
    UniqueConstraint("patient_id", "reported_at"),
    CheckConstraint("status IN ('active', 'inactive')", name="status"),
)

transfer_requests = Table(
    "transfer_requests", metadata,
    Column("id", Uuid, primary_key=True),
    Column("patient_id", Uuid, ForeignKey("patients.id"), nullable=False, index=True),
    Column("from_department_id", Uuid, ForeignKey("departments.id"), nullable=False),
    Column("to_department_id", Uuid, ForeignKey("departments.id"), nullable=False),
    Column("status", String(10), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_by_name", String(100), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("decided_by_name", String(100), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("reason", String(500), nullable=True),
    CheckConstraint("status IN ('pending', 'approved', 'rejected', 'cancelled', 'expired')", name="status"),
    CheckConstraint("from_department_id <> to_department_id", name="two_departments"),
    # One open request per patient and source department, however many arrive at once.
    Index("uq_transfer_requests_open", "patient_id", "from_department_id", unique=True, **_where("status = 'pending'")),
    Index("ix_transfer_requests_from", "from_department_id", "requested_at"),
    Index("ix_transfer_requests_to", "to_department_id", "requested_at"),
    Index("ix_transfer_requests_due", "expires_at", **_where("status = 'pending'")),
)

# In-app notices to a department about a transfer step; anyone with access may dismiss one.
notices = Table(
    "notices", metadata,
    Column("id", Uuid, primary_key=True),
    Column("department_id", Uuid, ForeignKey("departments.id"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("transfer_id", Uuid, ForeignKey("transfer_requests.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("dismissed_at", DateTime(timezone=True), nullable=True),
    Column("dismissed_by", String(64), nullable=True),
    Index("ix_notices_department", "department_id", "created_at"),
)

# Append-only (a trigger refuses UPDATE and DELETE): who did what to which patients, and when.
audit_log = Table(
    "audit_log", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("actor_subject", String(64), nullable=False),
    Column("actor_username", String(100), nullable=False),
    Column("actor_kind", String(8), nullable=False),
    Column("action", String(40), nullable=False),
    Column("department_id", Uuid, nullable=True),
    Column("transfer_id", Uuid, nullable=True),
    Column("details", JSON, nullable=False),   # e.g. the search criterion (a CPR only as its keyed hash)
    Column("correlation_id", String(128), nullable=True),
)

# The patients each audit entry concerns (one for a read, all those shown for a search or list).
audit_log_patients = Table(
    "audit_log_patients", metadata,
    Column("audit_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("audit_log.id"), primary_key=True),
    Column("patient_id", Uuid, primary_key=True, index=True),
)
