"""Keycloak users that identity asked for but never recorded: found and deleted again.

Creating a user takes two systems: Keycloak, then identity's rows. When Keycloak stops in the middle
of the create call it may have stored the user and still not answered; when identity crashes after
Keycloak answered, its rows are never committed. Either way Keycloak keeps a user identity does not
know (nobody can log in as it: it has no password and no access) and the username stays taken, so
the administrator's next try would be told "brugernavnet er optaget".

So each creation is recorded before Keycloak is asked (committed at once, in its own transaction)
and the record is removed in the transaction that records the identity user. A record left behind
marks a creation that did not complete (one Keycloak clearly refused removes its record at once).
``sweep`` (the worker, periodically) and a new creation of
the same username (at once, on Keycloak's 409) delete the Keycloak user of such a record, unless
identity has a user tied to it.

While a creation runs, its transaction holds a PostgreSQL advisory lock on the username, so a sweep
never takes a user that is still being recorded for an orphan; it is released by commit, rollback
or a dropped connection. SQLite (``make run``'s embedded default) has no such lock: there the
sweep leaves records alone until they are older than any creation can take.

What it cannot tell apart: a user made by hand in Keycloak's console (not a supported path: identity
owns the users) with the very name of a lost creation, before the next sweep.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, insert, select, text

from servicekit.db import Database
from servicekit.errors import DependencyUnavailable
from servicekit.uow import UnitOfWork

from ..adapters import user_repository
from ..adapters.keycloak_directory import UserDirectory
from ..adapters.tables import keycloak_creations

log = logging.getLogger(__name__)

# SQLite only (no advisory lock): well above the longest create call (IDENTITY_KEYCLOAK_TIMEOUT).
UNLOCKED_MIN_AGE = timedelta(minutes=5)


def _lock_username(session, db: Database, username: str, *, wait: bool) -> bool:
    """The transaction-scoped advisory lock for creating ``username``; True when held."""
    if not db.is_postgres:
        return True
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    held = session.execute(text(f"SELECT {function}(hashtext(:key))"), {"key": f"keycloak-creation:{username}"})
    return True if wait else bool(held.scalar())


def begin(uow: UnitOfWork, username: str) -> uuid.UUID:
    """Record that identity is about to create ``username`` in Keycloak; the uow keeps it locked."""
    _lock_username(uow.session, uow.db, username, wait=True)
    record_id = uuid.uuid4()
    with uow.db.sessions() as session:  # committed now: it must outlive a crash of this request
        session.execute(insert(keycloak_creations).values(id=record_id, username=username,
                                                          started_at=datetime.now(timezone.utc)))
        session.commit()
    return record_id


def refused(db: Database, record_id: uuid.UUID) -> None:
    """Keycloak refused the creation (a taken name, an invalid field): it made no user. The record
    goes at once: left, it would make a later sweep delete the user who does hold the name."""
    with db.sessions() as session:
        session.execute(delete(keycloak_creations).where(keycloak_creations.c.id == record_id))
        session.commit()


def completed(uow: UnitOfWork, username: str) -> None:
    """The identity user for ``username`` is recorded in this transaction: no record is left behind.
    (Keycloak created ours, so no other Keycloak user has the name: older records are done too.)"""
    uow.session.execute(delete(keycloak_creations).where(keycloak_creations.c.username == username))


def remove_earlier_orphan(uow: UnitOfWork, directory: UserDirectory, username: str, current: uuid.UUID) -> bool:
    """Keycloak refused ``username`` as taken: if an earlier creation of it by identity did not
    complete and its Keycloak user is nobody's, delete that user and return True (create again)."""
    earlier = uow.session.execute(select(func.count()).select_from(keycloak_creations).where(
        keycloak_creations.c.username == username, keycloak_creations.c.id != current)).scalar()
    if not earlier:
        return False
    return _delete_if_orphan(uow.session, directory, username)


def _delete_if_orphan(session, directory: UserDirectory, username: str) -> bool:
    keycloak_id = directory.find_user_id(username)
    if keycloak_id is None or user_repository.get_by_keycloak_id(session, keycloak_id) is not None:
        return False
    directory.delete_user(keycloak_id)
    log.warning("deleted a Keycloak user whose creation identity never recorded", extra={"keycloak_id": keycloak_id})
    return True


def sweep(db: Database, directory: UserDirectory, *, now: datetime | None = None) -> int:
    """Settle every record of a creation that is not running any more; return how many Keycloak
    users were deleted. A Keycloak that does not answer leaves the records for the next sweep."""
    now = now or datetime.now(timezone.utc)
    cutoff = now if db.is_postgres else now - UNLOCKED_MIN_AGE
    with db.sessions() as session:
        usernames = session.execute(select(keycloak_creations.c.username).where(
            keycloak_creations.c.started_at <= cutoff).distinct()).scalars().all()
    deleted = 0
    for username in usernames:
        with db.sessions() as session:
            if not _lock_username(session, db, username, wait=False):
                continue  # a creation of this username is running: it settles its own record
            try:
                deleted += _delete_if_orphan(session, directory, username)
            except DependencyUnavailable:
                log.warning("keycloak unreachable; unfinished user creations are settled later")
                return deleted
            session.execute(delete(keycloak_creations).where(keycloak_creations.c.username == username,
                                                             keycloak_creations.c.started_at <= cutoff))
            session.commit()
    return deleted
