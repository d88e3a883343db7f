"""identity's worker (`python -m identity worker`): its existing consumer marks "e-mail fejlet" from
notifications' delivery reports on the real bus, and its periodic check reminds of overdue reviews."""
import threading
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from identity.adapters import admin_repository
from identity.adapters.tables import messaging, review_reminders
from identity.runtime import build_runtime
from identity.worker import run
from servicekit import testing
from servicekit.events import new_event
from servicekit.messaging.broker import ConfirmingPublisher, OutgoingMessage, connect

from services.identity.tests.conftest import receive_organisation
from services.identity.tests.user_admin_support import add_person


@pytest.fixture
def worker_runtime(new_database, bus, principal_keys):
    runtime = build_runtime({"IDENTITY_DATABASE_URL": new_database("identity"), "DANBIO_BROKER_URL": bus,
                             "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1], "DANBIO_RETRY_DELAYS_MS": "50,100,200",
                             "DANBIO_RELAY_IDLE_WAIT": "0.2", "IDENTITY_REVIEW_CHECK_SECONDS": "0.5"})
    runtime.migrate()
    receive_organisation(runtime)
    yield runtime
    runtime.db.dispose()


def test_worker_marks_failed_welcome_mail_and_reminds_overdue_reviews(worker_runtime, bus, org):
    user = add_person(worker_runtime, memberships={org.OUH: "local_admin"}, departments={org.OUH_REU_C},
                      first_name="Anne", last_name="Admin")
    # HGH has no local administrator: its reminder goes to the registry administrators.
    add_person(worker_runtime, memberships={}, registry_admin=True, first_name="Rikke", last_name="Register")
    failed = new_event("notifications.delivery.failed", {
        "delivery_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()), "event_type": "identity.user.created",
        "purpose": "welcome", "channel": "email", "recipient": "a***@example.org", "user_id": str(user.id),
        "attempts": 3, "failed_at": datetime.now(timezone.utc).isoformat(), "permanent": True,
        "reason": "550 5.1.1 mailbox unknown"}, producer="notifications")
    publisher = ConfirmingPublisher(connect(bus), retry_delays_ms=(50, 100, 200))
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(worker_runtime,), kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        publisher.publish([OutgoingMessage(str(failed.id), failed.type, failed.to_json())])

        def marked():
            with worker_runtime.uow() as uow:
                status = admin_repository.email_status(uow.session, user.id)
                return status is not None and status.email_failed

        testing.wait_for(marked, timeout=20, message="the user marked 'e-mail fejlet'")

        def reminded_and_published():
            with worker_runtime.db.engine.connect() as connection:
                reminders = connection.execute(select(review_reminders)).all()
                published = connection.execute(select(messaging.outbox.c.published_at).where(
                    messaging.outbox.c.event_type == "identity.review.overdue")).scalars().all()
            return len(reminders) == 2 and len(published) == 2 and all(published)

        testing.wait_for(reminded_and_published, timeout=20, message="both hospitals reminded, events on the bus")
    finally:
        stop.set()
        thread.join(timeout=30)
        publisher.connection.release()
    assert not thread.is_alive()
