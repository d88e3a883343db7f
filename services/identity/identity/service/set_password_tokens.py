"""Single-use tokens that let a user choose a password without knowing the old one.

``issue`` returns the token once (to be sealed into an event or handed to the browser) and keeps
only its SHA-256; ``usable`` finds (and may lock) a token that can still be used; ``use_up`` ends
all of a user's tokens once a password was chosen (service/set_password.py).
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, insert, select, update

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


def usable(session, token: str, *, now: datetime, lock: bool):
    """The row of a token that is known, unused and unexpired (either purpose), or None. ``lock``
    holds the row until the caller's transaction ends: of two concurrent uses, one waits and then
    finds it used."""
    query = select(set_password_tokens).where(and_(set_password_tokens.c.token_hash == digest(token or ""),
                                                   set_password_tokens.c.used_at.is_(None),
                                                   set_password_tokens.c.expires_at > now))
    return session.execute(query.with_for_update() if lock else query).one_or_none()


def use_up(session, user_id: uuid.UUID, *, now: datetime) -> None:
    """Every unused token of the user is used: one password choice ends all open links."""
    session.execute(update(set_password_tokens)
                    .where(and_(set_password_tokens.c.user_id == user_id, set_password_tokens.c.used_at.is_(None)))
                    .values(used_at=now))
