"""The welcome e-mail's fate ("e-mail fejlet"), from notifications' delivery reports.

notifications.delivery.failed for a welcome e-mail marks the user; a later
notifications.delivery.succeeded for one (a resend, or a new address) clears the mark. Reports are
ordered by their own time: one that arrives late does not undo a newer one.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from servicekit.contracts import PURPOSE_WELCOME
from servicekit.events import Envelope
from servicekit.uow import UnitOfWork

from ..adapters import admin_repository as admin_repo


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def apply_delivery_outcome(uow: UnitOfWork, event: Envelope) -> None:
    data = event.data
    if data["purpose"] != PURPOSE_WELCOME or data["channel"] != "email" or not data.get("user_id"):
        return
    user_id = uuid.UUID(data["user_id"])
    if not admin_repo.user_exists(uow.session, user_id):
        return
    failed = event.type == "notifications.delivery.failed"
    reported_at = datetime.fromisoformat(data["failed_at"] if failed else data["sent_at"])
    held = admin_repo.email_status(uow.session, user_id)
    if held is not None and _aware(held.reported_at) >= reported_at:
        return
    admin_repo.set_email_status(uow.session, user_id, failed=failed, reason=data.get("reason") if failed else None,
                                reported_at=reported_at, exists_already=held is not None)
