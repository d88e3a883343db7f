"""What a registry administrator does with deliveries: look them up, resend a failed one."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from servicekit.errors import Conflict, NotFound
from servicekit.principal import Principal, require_registry_admin
from servicekit.uow import UnitOfWork

from ..adapters import delivery_repository as repo
from ..domain.masking import mask_recipient
from ..domain.planning import carries_secret
from ..domain.sending import FAILED_PERMANENT, QUEUED

log = logging.getLogger(__name__)


def resendable(row, *, now: datetime | None = None) -> bool:
    """A failed delivery can be sent again unless the link or code it carries is gone or expired."""
    if row.status != FAILED_PERMANENT:
        return False
    if not carries_secret(row.purpose, row.channel):
        return True
    expires = repo.aware(row.secret_expires_at)
    return row.sealed_secret is not None and (expires is None or expires > (now or datetime.now(timezone.utc)))


def list_deliveries(uow: UnitOfWork, principal: Principal, *, user_id: uuid.UUID | None = None,
                    status: str | None = None, purpose: str | None = None, channel: str | None = None,
                    limit: int = 50, offset: int = 0):
    """Deliveries, newest first, filtered by user, status, purpose and channel; (total, rows)."""
    require_registry_admin(principal)
    return repo.list_deliveries(uow.session, user_id=user_id, status=status, purpose=purpose, channel=channel,
                                limit=limit, offset=offset)


def get_delivery(uow: UnitOfWork, principal: Principal, delivery_id: uuid.UUID):
    """One delivery and its attempts; (row, attempts)."""
    require_registry_admin(principal)
    row = repo.get_delivery(uow.session, delivery_id)
    if row is None:
        raise NotFound("No such delivery.")
    return row, repo.attempts_of(uow.session, delivery_id)


def resend_delivery(uow: UnitOfWork, principal: Principal, delivery_id: uuid.UUID):
    """Queue a failed delivery again, with a fresh set of attempts; (row, attempts)."""
    require_registry_admin(principal)
    row = repo.get_delivery(uow.session, delivery_id, for_update=True)
    if row is None:
        raise NotFound("No such delivery.")
    if row.status != FAILED_PERMANENT:
        raise Conflict(f"Only a failed delivery can be resent; this one is {row.status}.")
    if not resendable(row):
        raise Conflict("The link or code in this message has expired. Have a new one issued "
                       "(a new welcome link or password reset) instead.")
    now = datetime.now(timezone.utc)
    repo.update_delivery(uow.session, delivery_id, status=QUEUED, series_attempts=0, resends=row.resends + 1,
                         next_attempt_at=now, lease_until=None, updated_at=now)
    repo.notify_dispatcher(uow.session)
    uow.commit()
    log.info("delivery resend requested", extra={"delivery_id": str(delivery_id), "by": principal.subject,
                                                  "purpose": row.purpose, "channel": row.channel,
                                                  "recipient": mask_recipient(row.channel, row.recipient)})
    return repo.get_delivery(uow.session, delivery_id), repo.attempts_of(uow.session, delivery_id)
