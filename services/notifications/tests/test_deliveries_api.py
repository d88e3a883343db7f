"""The registry administrators' API: deliveries by user and status, one delivery's attempt log,
resending a failed one. Queued through the real intake, sent by the real dispatcher to a real
SMTP server; no bus needed (outcome events stay in the outbox here)."""
import uuid

import pytest
from sqlalchemy import select, update

from servicekit.events import new_event
from servicekit.principal import HEADER, Membership, Principal, sign

from notifications.adapters.tables import deliveries
from notifications.app import create_app
from notifications.service.dispatch import Dispatcher
from notifications.service.intake import queue_messages
from tests.notifications import events


@pytest.fixture
def app(runtime_env, runtime):  # runtime: the database migrated
    return create_app(runtime_env)


def as_(principal_keys, *, admin: bool):
    who = Principal(subject=str(uuid.uuid4()), kind="user", username="sekretaer" if admin else "lokal",
                    registry_admin=admin,
                    memberships=() if admin else (Membership(hospital_id=uuid.uuid4(), role="local_admin"),))
    return {HEADER: sign(who, audience="notifications", key=principal_keys[0])}


def take_in(runtime, event_type, data):
    event = new_event(event_type, data, producer="identity")
    with runtime.uow() as uow:
        queue_messages(uow, event, transfer_emails=False)
        uow.commit()
    return event


def dispatch(runtime) -> int:
    """Send everything due now, as the worker's dispatch loop does; return how many attempts."""
    dispatcher, total = Dispatcher.from_settings(runtime.settings, runtime.uow), 0
    while attempted := dispatcher.dispatch_due():
        total += attempted
    return total


@pytest.fixture
def admin(principal_keys):
    return as_(principal_keys, admin=True)


def test_only_registry_administrators_may_look(app, principal_keys):
    client = app.test_client()
    assert client.get("/deliveries").status_code == 401
    response = client.get("/deliveries", headers=as_(principal_keys, admin=False))
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert client.post(f"/deliveries/{uuid.uuid4()}/resend", headers=as_(principal_keys, admin=False)).status_code == 403


def test_deliveries_by_user_and_status_and_one_with_its_attempts(app, runtime, smtp, sealer, admin):
    smtp.rcpt_replies["forkert@example.org"] = "550 5.1.1 <forkert@example.org>: unknown"
    bad, good = events.person(email="forkert@example.org"), events.person(email="god@example.org")
    take_in(runtime, "identity.user.created", events.user_created(sealer, "tok-bad", user=bad))
    take_in(runtime, "identity.user.created", events.user_created(sealer, "tok-good", user=good))
    assert dispatch(runtime) == 2
    client = app.test_client()

    everything = client.get("/deliveries", headers=admin).json
    assert everything["total"] == 2
    failed = client.get("/deliveries", query_string={"status": "failed_permanent"}, headers=admin).json
    assert [d["recipient"] for d in failed["items"]] == ["forkert@example.org"]
    item = failed["items"][0]
    assert (item["purpose"], item["channel"], item["resendable"], item["user_id"]) == (
        "welcome", "email", True, bad["user_id"])
    assert "550" in item["last_error"] and "sealed_secret" not in item and "context" not in item
    mine = client.get("/deliveries", query_string={"user_id": good["user_id"]}, headers=admin).json
    assert [d["status"] for d in mine["items"]] == ["sent"]

    detail = client.get(f"/deliveries/{item['id']}", headers=admin).json
    [attempt] = detail["attempt_log"]
    assert (attempt["number"], attempt["status"], attempt["template"]) == (1, "failed_permanent", "welcome.da")
    assert detail["created_at"].endswith("+00:00")


def test_bad_queries_are_refused_with_the_field_named(app, admin):
    client = app.test_client()
    for query, field in (({"status": "lost"}, "status"), ({"limit": "0"}, "limit"), ({"user_id": "x"}, "user_id"),
                         ({"colour": "blue"}, "colour")):
        response = client.get("/deliveries", query_string=query, headers=admin)
        assert response.status_code == 422 and response.mimetype == "application/problem+json"
        assert field in response.json["errors"]["query"], response.json
    assert client.get(f"/deliveries/{uuid.uuid4()}", headers=admin).status_code == 404


def test_resend_a_failed_delivery_once_the_address_works(app, runtime, smtp, sealer, admin):
    smtp.rcpt_replies["fejl@example.org"] = "550 5.1.1 <fejl@example.org>: unknown"
    event = take_in(runtime, "identity.user.created",
                    events.user_created(sealer, "tok-resend", user=events.person(email="fejl@example.org")))
    dispatch(runtime)
    client = app.test_client()
    [failed] = client.get("/deliveries", headers=admin).json["items"]

    del smtp.rcpt_replies["fejl@example.org"]
    response = client.post(f"/deliveries/{failed['id']}/resend", headers=admin)
    assert response.status_code == 202 and response.json["status"] == "queued" and response.json["resends"] == 1
    assert dispatch(runtime) == 1
    [mail] = smtp.received
    assert mail.message["Message-ID"] == f"<{event.id}.0@danbio.example.org>".replace(
        "danbio.example.org", runtime.settings.mail_from.domain)
    detail = client.get(f"/deliveries/{failed['id']}", headers=admin).json
    assert detail["status"] == "sent" and [a["status"] for a in detail["attempt_log"]] == ["failed_permanent", "sent"]
    # Sent: nothing to resend, and the sealed link is gone.
    again = client.post(f"/deliveries/{failed['id']}/resend", headers=admin)
    assert again.status_code == 409 and "Only a failed delivery" in again.json["detail"]
    with runtime.db.engine.connect() as connection:
        assert connection.execute(select(deliveries.c.sealed_secret)).scalar_one() is None
    # Two outcome events for the one event: failed, then succeeded.
    with runtime.db.engine.connect() as connection:
        types = [row.event_type for row in connection.execute(select(runtime.messaging.outbox)
                                                              .order_by(runtime.messaging.outbox.c.position))]
    assert types == ["notifications.delivery.failed", "notifications.delivery.succeeded"]


def test_no_resend_once_the_link_has_expired(app, runtime, smtp, sealer, admin):
    smtp.rcpt_replies["fejl@example.org"] = "550 5.1.1 <fejl@example.org>: unknown"
    take_in(runtime, "identity.user.created",
            events.user_created(sealer, "tok-old", user=events.person(email="fejl@example.org")))
    dispatch(runtime)
    with runtime.db.engine.begin() as connection:
        connection.execute(update(deliveries).values(secret_expires_at=deliveries.c.created_at))
    client = app.test_client()
    [failed] = client.get("/deliveries", headers=admin).json["items"]
    assert failed["resendable"] is False
    response = client.post(f"/deliveries/{failed['id']}/resend", headers=admin)
    assert response.status_code == 409 and "expired" in response.json["detail"]
    assert client.get(f"/deliveries/{failed['id']}", headers=admin).json["status"] == "failed_permanent"
    # The dispatcher's housekeeping erases the expired sealed value.
    assert Dispatcher.from_settings(runtime.settings, runtime.uow).erase_expired_secrets() == 1
