"""Choosing a password with a set-password token: the welcome link (activation), an
administrator's "Nulstil kode" link and the last step of an SMS reset (both purpose "reset").

The token row is locked while Keycloak sets the password and marked used in the same transaction:
a password the realm's policy refuses leaves the token usable (the user corrects it and tries
again), and of two concurrent attempts only one gets past the lock with the token unused.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from servicekit.errors import InvalidInput
from servicekit.uow import UnitOfWork

from ..adapters import user_repository
from ..adapters.keycloak_directory import KeycloakUserDirectory
from ..adapters.tables import password_changes
from ..domain.password_policy import parse_policy
from .access import record_access_changed
from .people import person_of
from . import set_password_tokens
from .set_password_tokens import RESET

log = logging.getLogger(__name__)

PASSWORD_CHANGED = "identity.password.changed"
POLICY_CACHE_SECONDS = 60.0
MAX_PASSWORD_LENGTH = 256


class InvalidToken(InvalidInput):
    def __init__(self):
        super().__init__("The link is invalid, used or has expired.", errors={"token": ["invalid or expired"]},
                         codes={"token": "invalid_token"})


def _usable_token(uow: UnitOfWork, token: str, now: datetime, *, lock: bool):
    row = set_password_tokens.usable(uow.session, token, now=now, lock=lock)
    if row is None:
        raise InvalidToken()
    return row


_policy_cache: dict[str, tuple[float, list]] = {}
_policy_lock = threading.Lock()


def password_policy(directory: KeycloakUserDirectory) -> list[dict[str, Any]]:
    """The realm's policy rules, read from Keycloak at most once a minute."""
    key = f"{directory.settings.keycloak_url}/{directory.settings.keycloak_realm}"
    with _policy_lock:
        cached = _policy_cache.get(key)
        if cached and time.monotonic() - cached[0] < POLICY_CACHE_SECONDS:
            return cached[1]
    rules = parse_policy(directory.password_policy())
    with _policy_lock:
        _policy_cache[key] = (time.monotonic(), rules)
    return rules


def check_token(uow: UnitOfWork, directory: KeycloakUserDirectory, token: str, *,
                now: datetime | None = None) -> dict[str, Any]:
    """What the set-password page shows for a usable token: purpose, username, expiry, policy."""
    now = now or datetime.now(timezone.utc)
    row = _usable_token(uow, token, now, lock=False)
    user = user_repository.get(uow.session, row.user_id)
    return {"purpose": row.purpose, "username": user.username, "expires_at": row.expires_at,
            "policy": password_policy(directory)}


def set_password(uow: UnitOfWork, directory: KeycloakUserDirectory, token: str, password: str, *,
                 now: datetime | None = None) -> str:
    """Set the user's password in Keycloak (not temporary), clear a brute-force lock, end their
    sessions, use up every set-password token they hold, audit it; return the token's purpose."""
    now = now or datetime.now(timezone.utc)
    if not password:
        raise InvalidInput("Type a password.", errors={"password": ["required"]}, codes={"password": "required"})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("The password is too long.", errors={"password": [f"at most {MAX_PASSWORD_LENGTH}"]},
                           codes={"password": "too_long"})
    row = _usable_token(uow, token, now, lock=True)
    user = user_repository.get(uow.session, row.user_id)
    directory.set_password(user.keycloak_id, password, temporary=False)  # the realm's policy may refuse
    was_locked = directory.brute_force_status(user.keycloak_id).locked
    directory.clear_brute_force(user.keycloak_id)
    directory.logout(user.keycloak_id)
    set_password_tokens.use_up(uow.session, user.id, now=now)
    uow.session.execute(password_changes.insert().values(id=uuid.uuid4(), user_id=user.id, at=now,
                                                         purpose=row.purpose, lock_cleared=was_locked))
    if was_locked:
        record_access_changed(uow, user_id=user.id, keycloak_id=user.keycloak_id, reason="unlocked")
    if row.purpose == RESET:
        uow.emit(PASSWORD_CHANGED, {"user": person_of(user), "changed_at": now.isoformat()})
    uow.commit()
    log.info("password set with a token", extra={"user_id": str(user.id), "purpose": row.purpose})
    return row.purpose

