"""The web UI's one table: server-side sessions (the web owns nothing else)."""
from sqlalchemy import Column, DateTime, String, Table, Text

from servicekit.db import new_metadata

metadata = new_metadata()

sessions = Table(
    "web_sessions", metadata,
    # SHA-256 of the cookie's session id: a copy of the table does not hand out live sessions.
    Column("id_hash", String(64), primary_key=True),
    # The session's data as JSON, sealed (Fernet): tokens are not readable at rest.
    Column("data", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
