"""Reads and writes of deliveries and their attempts (the delivery log)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, text, true, update
from sqlalchemy.orm import Session

from ..domain.planning import PlannedDelivery
from ..domain.sending import FAILED_PERMANENT, FAILED_TEMPORARY, QUEUED
from .tables import deliveries, delivery_attempts

# PostgreSQL delivers a NOTIFY at commit: the dispatcher wakes exactly when a message is due now.
DISPATCH_CHANNEL = "notifications_dispatch"
ORPHANED = "outcome unknown: the worker stopped during this attempt (the message may have gone out)"


@dataclass(frozen=True)
class Claim:
    """A delivery taken for one attempt, with what the attempt needs."""

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    ordinal: int
    purpose: str
    channel: str
    recipient: str
    recipient_name: str
    user_id: uuid.UUID | None
    locale: str
    context: dict[str, Any]
    sealed_secret: str | None
    secret_expires_at: datetime | None
    attempt: int             # this attempt's number (1, 2, ...) over the delivery's life
    series_attempts: int     # attempts since the delivery was queued or resent, this one included


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def notify_dispatcher(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {DISPATCH_CHANNEL}"))


def add_planned(session: Session, *, event_id: uuid.UUID, event_type: str, planned: list[PlannedDelivery],
                now: datetime) -> list[uuid.UUID]:
    ids = []
    for item in planned:
        delivery_id = uuid.uuid4()
        session.execute(insert(deliveries).values(
            id=delivery_id, event_id=event_id, event_type=event_type, ordinal=item.ordinal, purpose=item.purpose,
            channel=item.channel, recipient=item.recipient, recipient_name=item.recipient_name,
            user_id=uuid.UUID(item.user_id) if item.user_id else None, locale=item.locale, context=item.context,
            sealed_secret=item.sealed_secret, secret_expires_at=item.secret_expires_at, status=QUEUED,
            attempts=0, series_attempts=0, resends=0, next_attempt_at=now, created_at=now, updated_at=now))
        ids.append(delivery_id)
    return ids


def claim_due(session: Session, *, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
    """Take up to ``limit`` due deliveries for one attempt each: lease them and log the attempt as
    queued. An attempt whose lease ran out without a result (its worker died mid-send) is closed
    as failed_temporary with an 'outcome unknown' note first."""
    due = (select(deliveries)
           .where(deliveries.c.status.in_((QUEUED, FAILED_TEMPORARY)), deliveries.c.next_attempt_at <= now,
                  or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now))
           .order_by(deliveries.c.next_attempt_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claims = []
    for row in session.execute(due).all():
        # Conditional: on SQLite (no row locks) a second dispatcher finds the lease taken.
        taken = session.execute(
            update(deliveries)
            .where(deliveries.c.id == row.id, deliveries.c.attempts == row.attempts)
            .values(attempts=row.attempts + 1, series_attempts=row.series_attempts + 1,
                    lease_until=now + lease, updated_at=now))
        if taken.rowcount != 1:
            continue
        if row.lease_until is not None:
            session.execute(update(delivery_attempts)
                            .where(delivery_attempts.c.delivery_id == row.id, delivery_attempts.c.status == QUEUED)
                            .values(status=FAILED_TEMPORARY, provider_response=ORPHANED, finished_at=now))
        session.execute(insert(delivery_attempts).values(
            delivery_id=row.id, number=row.attempts + 1, channel=row.channel, recipient=row.recipient,
            template=f"{row.purpose}.{row.locale}", status=QUEUED, started_at=now))
        claims.append(Claim(id=row.id, event_id=row.event_id, event_type=row.event_type, ordinal=row.ordinal,
                            purpose=row.purpose, channel=row.channel, recipient=row.recipient,
                            recipient_name=row.recipient_name, user_id=row.user_id, locale=row.locale,
                            context=row.context, sealed_secret=row.sealed_secret,
                            secret_expires_at=aware(row.secret_expires_at), attempt=row.attempts + 1,
                            series_attempts=row.series_attempts + 1))
    return claims


def finish_attempt(session: Session, claim: Claim, *, status: str, response: str, now: datetime) -> None:
    session.execute(update(delivery_attempts)
                    .where(delivery_attempts.c.delivery_id == claim.id, delivery_attempts.c.number == claim.attempt)
                    .values(status=status, provider_response=response[:500], finished_at=now))


def update_delivery(session: Session, delivery_id: uuid.UUID, **values: Any) -> None:
    session.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))


def next_due_at(session: Session) -> datetime | None:
    """When the earliest waiting delivery becomes due (or its lease runs out)."""
    waiting = deliveries.c.status.in_((QUEUED, FAILED_TEMPORARY))
    return session.execute(select(func.min(func.coalesce(deliveries.c.lease_until, deliveries.c.next_attempt_at)))
                           .where(waiting)).scalar()


def erase_expired_secrets(session: Session, *, now: datetime) -> int:
    """Failed deliveries keep their sealed secret for a resend until it expires; then it goes."""
    result = session.execute(update(deliveries)
                             .where(deliveries.c.sealed_secret.is_not(None), deliveries.c.secret_expires_at <= now,
                                    deliveries.c.status == FAILED_PERMANENT)
                             .values(sealed_secret=None))
    return result.rowcount or 0


# -- for the API ------------------------------------------------------------------------------------

def get_delivery(session: Session, delivery_id: uuid.UUID, *, for_update: bool = False):
    query = select(deliveries).where(deliveries.c.id == delivery_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.execute(query).first()


def list_deliveries(session: Session, *, user_id: uuid.UUID | None = None, status: str | None = None,
                    purpose: str | None = None, channel: str | None = None, limit: int = 50, offset: int = 0):
    conditions = []
    for column, value in ((deliveries.c.user_id, user_id), (deliveries.c.status, status),
                          (deliveries.c.purpose, purpose), (deliveries.c.channel, channel)):
        if value is not None:
            conditions.append(column == value)
    where = and_(*conditions) if conditions else true()
    total = session.execute(select(func.count()).select_from(deliveries).where(where)).scalar_one()
    rows = session.execute(select(deliveries).where(where)
                           .order_by(deliveries.c.created_at.desc(), deliveries.c.id)
                           .limit(limit).offset(offset)).all()
    return total, rows


def attempts_of(session: Session, delivery_id: uuid.UUID):
    return session.execute(select(delivery_attempts).where(delivery_attempts.c.delivery_id == delivery_id)
                           .order_by(delivery_attempts.c.number)).all()
