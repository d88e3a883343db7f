"""Unit of work: one database transaction holding a use case's rows *and* its events.

Events go to the outbox table inside the same transaction, so they exist exactly when the state
change does; the relay publishes them after commit. Leaving the block without ``commit()`` rolls
everything back.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from .db import Database
from .events import Envelope, new_event
from .messaging.tables import MessagingTables

# PostgreSQL delivers a NOTIFY only on commit: the relay wakes exactly when there is work.
OUTBOX_CHANNEL = "danbio_outbox"


class UnitOfWork:
    def __init__(self, db: Database, messaging: MessagingTables, *, producer: str):
        self.db = db
        self.messaging = messaging
        self.producer = producer
        self.session: Session | None = None
        self._emitted = 0
        self._committed = False

    def __enter__(self) -> "UnitOfWork":
        self.session = self.db.sessions()
        self._emitted = 0
        self._committed = False
        return self

    def __exit__(self, *exc_info: Any) -> None:
        assert self.session is not None
        try:
            if not self._committed:
                self.session.rollback()
        finally:
            self.session.close()
            self.session = None

    def emit(self, event_type: str, data: dict[str, Any], *, version: int = 1) -> Envelope:
        """Validate an event and put it in the outbox, in this transaction."""
        envelope = new_event(event_type, data, producer=self.producer, version=version)
        self.session.execute(insert(self.messaging.outbox).values(
            event_id=envelope.id, event_type=envelope.type, body=envelope.to_json(),
            created_at=datetime.now(timezone.utc), attempts=0,
        ))
        self._emitted += 1
        return envelope

    def commit(self) -> None:
        if self._emitted and self.db.is_postgres:
            self.session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
        self.session.commit()
        self._committed = True

    def rollback(self) -> None:
        self.session.rollback()
