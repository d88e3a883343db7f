"""The identity service's tables."""
from sqlalchemy import (Boolean, CheckConstraint, Column, DateTime, ForeignKey, Index, Integer, PrimaryKeyConstraint,
                        String, Table, Uuid, false, func)

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
    # Keycloak holds the link; this copy lets a list of users show it without asking for each one
    # (service/mitid_links.py keeps it in step).
    Column("mitid_linked", Boolean, nullable=False, server_default=false()),
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


# --- issue 5: user administration ------------------------------------------------------------------
from sqlalchemy import JSON  # noqa: E402  (kept with the tables that use it)

ADMIN_ACTIONS = ("created", "added_to_hospital", "access_changed", "review_removed", "unlocked", "reviewed")

# Every administrative change of access: who did it, when, at which hospital, before and after.
# Append-only: migration 0004 adds triggers that refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL).
# No foreign key to users: the record must outlive whatever happens to the user's rows.
admin_audit = Table(
    "admin_audit", metadata,
    Column("id", Uuid, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_id", Uuid),                         # identity's user id of the administrator
    Column("actor_name", String(200), nullable=False),
    Column("action", String(32), nullable=False),
    Column("user_id", Uuid),                          # whose access changed (None: a review of the hospital)
    Column("hospital_id", Uuid),
    Column("hospital_name", String(200)),
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    CheckConstraint("action IN ('created', 'added_to_hospital', 'access_changed', 'review_removed', "
                    "'unlocked', 'reviewed', 'phone_changed')", name="action"),
)
Index("ix_admin_audit_user_id_at", admin_audit.c.user_id, admin_audit.c.at)
Index("ix_admin_audit_hospital_id_action_at", admin_audit.c.hospital_id, admin_audit.c.action, admin_audit.c.at)

# A documented quarterly review of a hospital's users (A4).
access_reviews = Table(
    "access_reviews", metadata,
    Column("id", Uuid, primary_key=True),
    Column("hospital_id", Uuid, nullable=False),
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
    Column("reviewed_by_id", Uuid),
    Column("reviewed_by_name", String(200), nullable=False),
)
Index("ix_access_reviews_hospital_id_reviewed_at", access_reviews.c.hospital_id, access_reviews.c.reviewed_at)

# identity.review.overdue sent, once per hospital and overdue period. ``period`` names the period:
# the id of the last review it follows, or 'never' for a hospital without any review.
review_reminders = Table(
    "review_reminders", metadata,
    Column("hospital_id", Uuid, nullable=False),
    Column("period", String(40), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("hospital_id", "period"),
)

# The welcome e-mail's fate, from notifications.delivery.failed/succeeded (purpose welcome).
# ``reported_at`` orders the reports: an older one arriving late does not undo a newer one.
user_email_status = Table(
    "user_email_status", metadata,
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("email_failed", Boolean, nullable=False),
    Column("reason", String(500)),
    Column("reported_at", DateTime(timezone=True), nullable=False),
)

# Cross-hospital search (A2) uses a GIN trigram index on this expression (PostgreSQL, migration
# 0004); the query must use the very same SQL text for the planner to match it.
USER_SEARCH_EXPRESSION = "lower(users.username || ' ' || users.email)"


# issue 7: password reset
#
# A reset request is made for whatever username was typed, known or not (user_id is then NULL), so
# every later step behaves the same either way and answers say nothing about who exists.
password_reset_requests = Table(
    "password_reset_requests", metadata,
    Column("id", Uuid, primary_key=True),
    Column("username_key", String(254), nullable=False),  # the typed username, lower case
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("failed_attempts", Integer, nullable=False, server_default="0"),
    Column("verified_at", DateTime(timezone=True)),
)

# One-time codes of a reset request: only a salted SHA-256 is kept; a new code ends the previous one.
password_reset_codes = Table(
    "password_reset_codes", metadata,
    Column("id", Uuid, primary_key=True),
    Column("request_id", Uuid, ForeignKey("password_reset_requests.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("username_key", String(254), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)
# "At most 3 codes per user per hour" counts by username.
Index("ix_password_reset_codes_username_created", password_reset_codes.c.username_key,
      password_reset_codes.c.created_at)

# Audit of passwords set with a token (welcome link, "Nulstil kode" link, SMS reset): who, when, how,
# and whether a brute-force lock was lifted by it. Append-only.
password_changes = Table(
    "password_changes", metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("lock_cleared", Boolean, nullable=False),
    CheckConstraint("purpose IN ('activation', 'reset')", name="purpose"),
)
# "Opret bruger" refuses an e-mail address another user has (Keycloak does too: no duplicate e-mails).
Index("ix_users_email_lower", func.lower(users.c.email))

# issue 8: federation
# Every link, unlink and federated login (MitID, a region's IdP), refused ones included: who, which
# IdP alias, what happened (action: link, unlink, login; outcome: accepted or why it was refused) and
# which upstream identity and professional profile it was. Keycloak keeps the links themselves.
federation_audit = Table(
    "federation_audit", metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(32), nullable=False),
    Column("action", String(16), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("upstream_user_id", String(255)),
    Column("upstream_username", String(255)),
    Column("professional_uuid", String(64)),
    Column("organisation_cvr", String(16)),
    Column("correlation_id", String(64)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)
Index("ix_federation_audit_user_id", federation_audit.c.user_id, federation_audit.c.occurred_at)

# Keycloak users being created (service/keycloak_creations.py). A row is committed before Keycloak
# is asked and removed in the transaction that records the identity user: a row left behind marks
# a creation that failed or whose answer was lost (Keycloak stopped mid-request, a crash), whose
# Keycloak user, if Keycloak made one, the worker deletes.
keycloak_creations = Table(
    "keycloak_creations", metadata,
    Column("id", Uuid, primary_key=True),
    Column("username", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
)
Index("ix_keycloak_creations_username", keycloak_creations.c.username)
