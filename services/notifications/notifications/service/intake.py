"""Taking in an event that should reach a person: plan its messages and queue them.

Runs inside the consumer's inbox transaction, so an event is queued exactly once however often
the broker delivers it; sending happens afterwards, in the dispatcher, never in this transaction.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from servicekit.events import Envelope
from servicekit.uow import UnitOfWork

from ..adapters import delivery_repository as repo
from ..domain.masking import mask_recipient
from ..domain.planning import plan_deliveries

log = logging.getLogger(__name__)


def queue_messages(uow: UnitOfWork, event: Envelope, *, transfer_emails: bool) -> int:
    """Queue the messages ``event`` asks for; return how many."""
    planned = plan_deliveries(event.type, event.data, transfer_emails=transfer_emails)
    if not planned:
        log.info("event asks for no message", extra={"event_type": event.type, "event_id": str(event.id)})
        return 0
    ids = repo.add_planned(uow.session, event_id=event.id, event_type=event.type, planned=planned,
                           now=datetime.now(timezone.utc))
    repo.notify_dispatcher(uow.session)
    for delivery_id, item in zip(ids, planned):
        log.info("delivery queued", extra={"delivery_id": str(delivery_id), "event_id": str(event.id),
                                           "purpose": item.purpose, "channel": item.channel,
                                           "recipient": mask_recipient(item.channel, item.recipient)})
    return len(planned)
