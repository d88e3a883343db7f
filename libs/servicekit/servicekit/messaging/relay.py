"""The outbox relay: publishes committed events, then marks them sent.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` (so several relays may run) and marked
published in the same transaction, only after the broker confirmed the batch. If the broker or
this process dies in between, the rows stay unpublished and go out again: consumers are
idempotent (inbox), so a duplicate is harmless and nothing is lost.

It wakes on PostgreSQL's NOTIFY from the committing transaction; SQLite has no notifications, so
there it polls at a short interval.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, update

from ..db import ChannelListener, Database
from ..metrics import OUTBOX_PUBLISHED, OUTBOX_PUBLISH_FAILURES
from ..uow import OUTBOX_CHANNEL
from .broker import ConfirmingPublisher, OutgoingMessage, PublishNotConfirmed
from .tables import MessagingTables

log = logging.getLogger(__name__)

SQLITE_POLL_SECONDS = 0.05
PUBLISHED_RETENTION = timedelta(days=7)


class OutboxRelay:
    def __init__(self, db: Database, messaging: MessagingTables, publisher: ConfirmingPublisher, *,
                 batch_size: int = 200, idle_wait: float = 1.0, max_backoff: float = 5.0):
        self.db = db
        self.outbox = messaging.outbox
        self.publisher = publisher
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.max_backoff = max_backoff
        self._last_prune = 0.0

    def publish_pending(self) -> int:
        """Publish one batch of unpublished rows; return how many were published."""
        outbox = self.outbox
        claim = (select(outbox.c.position, outbox.c.event_id, outbox.c.event_type, outbox.c.body)
                 .where(outbox.c.published_at.is_(None))
                 .order_by(outbox.c.position).limit(self.batch_size))
        if self.db.is_postgres:
            claim = claim.with_for_update(skip_locked=True)
        positions: list[int] = []
        try:
            with self.db.engine.begin() as connection:
                rows = connection.execute(claim).all()
                if not rows:
                    return 0
                positions = [row.position for row in rows]
                self.publisher.publish([
                    OutgoingMessage(event_id=str(row.event_id), routing_key=row.event_type, body=row.body)
                    for row in rows
                ])
                connection.execute(update(outbox).where(outbox.c.position.in_(positions))
                                   .values(published_at=datetime.now(timezone.utc)))
        except PublishNotConfirmed as exc:
            OUTBOX_PUBLISH_FAILURES.inc()
            self._record_failure(positions, str(exc))
            raise
        OUTBOX_PUBLISHED.inc(len(positions))
        return len(positions)

    def _record_failure(self, positions: list[int], error: str) -> None:
        with self.db.engine.begin() as connection:
            connection.execute(update(self.outbox).where(self.outbox.c.position.in_(positions))
                               .values(attempts=self.outbox.c.attempts + 1, last_error=error[:500]))

    def prune(self) -> int:
        """Drop rows published long ago; the outbox is a queue, not an archive."""
        cutoff = datetime.now(timezone.utc) - PUBLISHED_RETENTION
        with self.db.engine.begin() as connection:
            result = connection.execute(delete(self.outbox).where(self.outbox.c.published_at < cutoff))
        return result.rowcount or 0

    def run(self, stop: threading.Event) -> None:
        backoff = 0.1
        waiter = ChannelListener(self.db, OUTBOX_CHANNEL) if self.db.is_postgres else None
        try:
            while not stop.is_set():
                try:
                    published = self.publish_pending()
                    backoff = 0.1
                except PublishNotConfirmed as exc:
                    log.warning("outbox relay: broker unavailable, retrying", extra={"error": str(exc),
                                                                                      "retry_in_s": backoff})
                    stop.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                except Exception:
                    log.exception("outbox relay: database error, retrying")
                    stop.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                if published == self.batch_size:
                    continue  # more may be waiting
                if time.monotonic() - self._last_prune > 3600:
                    self._last_prune = time.monotonic()
                    self.prune()
                if waiter is not None:
                    waiter.wait(self.idle_wait)
                else:
                    stop.wait(SQLITE_POLL_SECONDS)
        finally:
            if waiter is not None:
                waiter.close()
