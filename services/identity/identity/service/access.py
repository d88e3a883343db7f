"""The one way identity announces that a user's access changed.

Whoever caches a user's principal (the gateway) drops it when ``identity.user.access_changed``
arrives, so every use case that changes roles, hospitals, departments, blocks, unlocks, creates or
re-links a user calls ``record_access_changed`` in its unit of work: the event is in the outbox
exactly when the change is committed.
"""
from __future__ import annotations

import uuid

from servicekit.uow import UnitOfWork

ACCESS_CHANGED = "identity.user.access_changed"


def record_access_changed(uow: UnitOfWork, *, user_id: uuid.UUID, keycloak_id: str, reason: str) -> None:
    """Emit identity.user.access_changed for this user (``reason``: a short word such as 'created')."""
    uow.emit(ACCESS_CHANGED, {"user_id": str(user_id), "subject": keycloak_id, "reason": reason})
