"""The notifications service's tables.

``deliveries``: one row per message an event asked for (one channel, one recipient), with its
current status and when to try next. ``delivery_attempts``: the delivery log, one row per attempt.
The sealed secret of a welcome link or reset code is kept (sealed, never opened at rest) only
while the message may still be sent or resent, and erased when it is sent or has expired.
"""
from sqlalchemy import (JSON, CheckConstraint, Column, DateTime, ForeignKey, Index, Integer, PrimaryKeyConstraint,
                        String, Table, Text, UniqueConstraint, Uuid)

from servicekit.db import new_metadata
from servicekit.messaging.tables import define_messaging_tables

metadata = new_metadata()
messaging = define_messaging_tables(metadata)

_STATUS = "status IN ('queued', 'sent', 'failed_temporary', 'failed_permanent')"

deliveries = Table(
    "deliveries", metadata,
    Column("id", Uuid, primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", String(120), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("recipient_name", String(200), nullable=False),
    Column("user_id", Uuid, index=True),
    Column("locale", String(5), nullable=False),
    Column("context", JSON, nullable=False),
    Column("sealed_secret", Text),
    Column("secret_expires_at", DateTime(timezone=True)),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),         # every attempt ever
    Column("series_attempts", Integer, nullable=False, default=0),  # since queued or last resent
    Column("resends", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", String(500)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    UniqueConstraint("event_id", "ordinal"),
    CheckConstraint(_STATUS, name="status"),
    CheckConstraint("channel IN ('email', 'sms')", name="channel"),
)
# The dispatcher's question: what is due now.
Index("ix_deliveries_due", deliveries.c.next_attempt_at,
      postgresql_where=deliveries.c.status.in_(("queued", "failed_temporary")),
      sqlite_where=deliveries.c.status.in_(("queued", "failed_temporary")))
Index("ix_deliveries_status_created", deliveries.c.status, deliveries.c.created_at)

delivery_attempts = Table(
    "delivery_attempts", metadata,
    Column("delivery_id", Uuid, ForeignKey("deliveries.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("channel", String(10), nullable=False),
    Column("recipient", String(254), nullable=False),
    Column("template", String(60), nullable=False),
    Column("status", String(20), nullable=False),
    Column("provider_response", String(500)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("delivery_id", "number"),
    CheckConstraint(_STATUS, name="status"),
)
