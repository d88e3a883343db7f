"""Single-use tokens that let a user choose a password without knowing the old one.

``issue`` returns the token once (to be sealed into an event or handed to the browser) and keeps
only its SHA-256; ``redeem`` consumes it exactly once: a concurrent second redeem finds the row
already used (the UPDATE is conditional), so at most one caller ever gets the user id back.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, insert, update

from servicekit.errors import InvalidInput

from ..adapters.tables import set_password_tokens

ACTIVATION = "activation"
RESET = "reset"
ACTIVATION_TTL = timedelta(hours=72)
RESET_TTL = timedelta(minutes=10)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session, user_id: uuid.UUID, purpose: str, ttl: timedelta, *, now: datetime | None = None) -> IssuedToken:
    """A new token for ``user_id``; no commit (it belongs to the caller's unit of work)."""
    now = now or datetime.now(timezone.utc)
    token = secrets.token_urlsafe(32)
    session.execute(insert(set_password_tokens).values(
        token_hash=digest(token), user_id=user_id, purpose=purpose, created_at=now, expires_at=now + ttl))
    return IssuedToken(token=token, expires_at=now + ttl)


def redeem(session, token: str, purpose: str, *, now: datetime | None = None) -> uuid.UUID:
    """Mark the token used and return its user; InvalidInput when it is unknown, used or expired
    (one answer for all three: the caller learns nothing about which). No commit."""
    now = now or datetime.now(timezone.utc)
    row = session.execute(
        update(set_password_tokens)
        .where(and_(set_password_tokens.c.token_hash == digest(token or ""),
                    set_password_tokens.c.purpose == purpose,
                    set_password_tokens.c.used_at.is_(None),
                    set_password_tokens.c.expires_at > now))
        .values(used_at=now)
        .returning(set_password_tokens.c.user_id)).first()
    if row is None:
        raise InvalidInput("The link is invalid or has expired.", errors={"token": ["invalid or expired"]})
    return row.user_id


def peek(session, token: str, purpose: str, *, now: datetime | None = None) -> uuid.UUID | None:
    """The user of a still-usable token, without using it (to show the form before it is posted)."""
    now = now or datetime.now(timezone.utc)
    row = session.execute(
        set_password_tokens.select().where(and_(set_password_tokens.c.token_hash == digest(token or ""),
                                                set_password_tokens.c.purpose == purpose,
                                                set_password_tokens.c.used_at.is_(None),
                                                set_password_tokens.c.expires_at > now))).first()
    return row.user_id if row else None
