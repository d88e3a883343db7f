"""notifications' event handlers, by queue of the topology and event type."""
from __future__ import annotations

from servicekit.messaging.topology import spec_for

from .service.intake import queue_messages

QUEUE = "notifications.deliveries"


def build_handlers(settings) -> dict:
    """Every event bound to notifications' queue queues its messages (see domain.planning)."""

    def handle(uow, event) -> None:
        queue_messages(uow, event, transfer_emails=settings.transfer_emails)

    return {QUEUE: {event_type: handle for event_type in spec_for(QUEUE).event_types}}
