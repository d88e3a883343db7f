"""Server-side sessions in a database table every web process shares.

Why a table: the web runs several gunicorn workers (and may run on several hosts); a session
written by one must be read by the next request, whichever process serves it. The cookie holds
only a random id; the table holds its SHA-256 and the data sealed with WEB_SESSION_KEY, so neither
a copy of the table nor a log of it hands out sessions or tokens.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from sqlalchemy import delete, insert, select, update

from servicekit.db import Database
from servicekit.sealed import Sealer, SealingError

from .tables import sessions

PURGE_EVERY = 200  # writes, on average, between two deletions of expired sessions


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SessionStore:
    def __init__(self, db: Database, sealer: Sealer, *, clock: Callable[[], datetime] = _now):
        self.db, self.sealer, self.clock = db, sealer, clock

    def load(self, sid: str) -> dict[str, Any] | None:
        with self.db.engine.connect() as connection:
            row = connection.execute(select(sessions.c.data, sessions.c.expires_at)
                                     .where(sessions.c.id_hash == _hash(sid))).first()
        return self._open(row)

    def save(self, sid: str, data: dict[str, Any], *, lifetime: timedelta) -> None:
        now = self.clock()
        values = {"data": self.sealer.seal(json.dumps(data)), "expires_at": now + lifetime, "updated_at": now}
        with self.db.engine.begin() as connection:
            changed = connection.execute(update(sessions).where(sessions.c.id_hash == _hash(sid)).values(**values))
            if changed.rowcount == 0:
                connection.execute(insert(sessions).values(id_hash=_hash(sid), **values))
            if random.randrange(PURGE_EVERY) == 0:
                connection.execute(delete(sessions).where(sessions.c.expires_at < now))

    def delete(self, sid: str) -> None:
        with self.db.engine.begin() as connection:
            connection.execute(delete(sessions).where(sessions.c.id_hash == _hash(sid)))

    @contextlib.contextmanager
    def locked(self, sid: str) -> Iterator["LockedSession"]:
        """The session's stored data under a row lock (PostgreSQL), for a read-modify-write that
        must not interleave with another process's: refreshing the tokens."""
        with self.db.engine.begin() as connection:
            row = connection.execute(select(sessions.c.data, sessions.c.expires_at)
                                     .where(sessions.c.id_hash == _hash(sid)).with_for_update()).first()
            locked = LockedSession(self._open(row))
            yield locked
            if locked.data is not None and locked.lifetime is not None:
                now = self.clock()
                connection.execute(update(sessions).where(sessions.c.id_hash == _hash(sid)).values(
                    data=self.sealer.seal(json.dumps(locked.data)), expires_at=now + locked.lifetime,
                    updated_at=now))

    def _open(self, row) -> dict[str, Any] | None:
        if row is None:
            return None
        expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
        if expires_at <= self.clock():
            return None
        try:
            return json.loads(self.sealer.open(row.data))
        except (SealingError, ValueError):
            return None  # sealed with a key no longer configured: the user logs in again


class LockedSession:
    def __init__(self, data: dict[str, Any] | None):
        self.data = data
        self.lifetime: timedelta | None = None

    def write(self, data: dict[str, Any], *, lifetime: timedelta) -> None:
        self.data, self.lifetime = data, lifetime
