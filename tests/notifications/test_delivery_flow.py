"""Identity's events reach people: through real RabbitMQ and PostgreSQL, notifications' worker in a
thread, a real SMTP server (aiosmtpd) and a real HTTP server speaking the SMS gateway's contract."""
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from servicekit import testing
from servicekit.worker import run_worker

from notifications.adapters import delivery_repository as repo
from notifications.adapters.tables import deliveries, delivery_attempts
from notifications.handlers import build_handlers

from . import events
from .conftest import NotificationsWorker

SUCCEEDED, FAILED = "notifications.delivery.succeeded", "notifications.delivery.failed"


def rows(runtime, table, *where):
    with runtime.db.engine.connect() as connection:
        return connection.execute(select(table).where(*where)).all()


def attempt_log(runtime, delivery_id):
    with runtime.db.engine.connect() as connection:
        return connection.execute(select(delivery_attempts).where(delivery_attempts.c.delivery_id == delivery_id)
                                  .order_by(delivery_attempts.c.number)).all()


def only_delivery(runtime):
    [delivery] = rows(runtime, deliveries)
    return delivery


def test_welcome_mail_reaches_the_user_with_its_link_and_proper_headers(notifications, smtp, publish, sealer, outcomes):
    token = f"welcome-{uuid.uuid4().hex}"
    with NotificationsWorker(notifications):
        event = publish("identity.user.created", events.user_created(sealer, token))
        [mail] = testing.wait_for(lambda: smtp.mails_to("soeren.aaberg@example.org"), message="the welcome mail")
        [succeeded] = testing.wait_for(lambda: outcomes.of_type(SUCCEEDED), message="the succeeded event")

    message = mail.message
    assert str(message["Subject"]) == "Velkommen til DANBIO – vælg din adgangskode"
    assert message["To"].addresses[0].display_name == "Søren Ærø Åberg"
    assert message["From"].addresses[0].display_name == "DANBIO – Dansk Reumatologisk Database"
    assert message["Reply-To"].addresses[0].addr_spec == "sekretariat@danbio.example.org"
    assert message["Message-ID"] == f"<{event.id}.0@danbio.example.org>"
    assert abs(message["Date"].datetime.timestamp() - time.time()) < 60
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    link = f"https://danbio.example.org/aktiver/{token}"
    assert "Kære Søren Ærø Åberg" in text and link in text and "Dit brugernavn er: soeren.aaberg" in text
    assert "Aarhus Universitetshospital, Skejby" in text and "Birthe Ødegård" in text
    assert f'href="{link}"' in html and "Reumatologisk Ambulatorium, Østfløjen" in html

    assert succeeded["data"]["event_id"] == str(event.id)
    assert (succeeded["data"]["purpose"], succeeded["data"]["channel"]) == ("welcome", "email")
    assert succeeded["data"]["recipient"] == "s***@example.org"
    delivery = only_delivery(notifications)
    assert (delivery.status, delivery.attempts, delivery.sealed_secret) == ("sent", 1, None)
    [attempt] = attempt_log(notifications, delivery.id)
    assert (attempt.status, attempt.template, attempt.channel) == ("sent", "welcome.da", "email")
    assert attempt.provider_response.startswith("accepted: 250")


def test_english_for_locale_en(notifications, smtp, publish, sealer):
    user = events.person(name="Åsa Lindqvist", email="asa@example.org", locale="en")
    with NotificationsWorker(notifications):
        publish("identity.user.created", events.user_created(sealer, "t-" + uuid.uuid4().hex, user=user))
        [mail] = testing.wait_for(lambda: smtp.mails_to("asa@example.org"), message="the English welcome")
    assert str(mail.message["Subject"]) == "Welcome to DANBIO – choose your password"
    assert mail.message["Content-Language"] == "en"
    assert "Dear Åsa Lindqvist" in mail.message.get_body(preferencelist=("plain",)).get_content()


def test_unknown_mailbox_fails_permanently_and_says_so_on_the_bus(notifications, smtp, publish, sealer, outcomes):
    smtp.rcpt_replies["ukendt@example.org"] = "550 5.1.1 <ukendt@example.org>: Recipient address rejected"
    user = events.person(email="ukendt@example.org")
    with NotificationsWorker(notifications):
        event = publish("identity.user.created", events.user_created(sealer, "t-" + uuid.uuid4().hex, user=user))
        [failed] = testing.wait_for(lambda: outcomes.of_type(FAILED), message="the failed event")
    data = failed["data"]
    assert (data["event_id"], data["event_type"], data["purpose"]) == (str(event.id), "identity.user.created", "welcome")
    assert data["permanent"] is True and "550" in data["reason"] and data["recipient"] == "u***@example.org"
    assert data["user_id"] == user["user_id"] and data["attempts"] == 1
    assert smtp.received == []
    delivery = only_delivery(notifications)
    assert delivery.status == "failed_permanent" and delivery.attempts == 1
    # Kept sealed (never opened at rest) so an administrator can resend once the address is fixed.
    assert delivery.sealed_secret is not None
    assert outcomes.of_type(SUCCEEDED) == []


def test_temporary_failure_is_retried_with_growing_back_off_then_sent(notifications, smtp, publish, sealer, outcomes):
    smtp.data_replies.extend(["451 4.3.0 Try again later", "421 4.7.0 Too busy"])
    with NotificationsWorker(notifications):
        publish("identity.user.created", events.user_created(sealer, "t-" + uuid.uuid4().hex))
        testing.wait_for(lambda: smtp.received, message="the mail after two temporary failures")
        testing.wait_for(lambda: outcomes.of_type(SUCCEEDED), message="succeeded")
    delivery = only_delivery(notifications)
    log = attempt_log(notifications, delivery.id)
    assert [a.status for a in log] == ["failed_temporary", "failed_temporary", "sent"]
    assert "451" in log[0].provider_response and "421" in log[1].provider_response
    first_wait = (log[1].started_at - log[0].finished_at).total_seconds()
    second_wait = (log[2].started_at - log[1].finished_at).total_seconds()
    assert 0.09 <= first_wait and second_wait >= 0.18  # 0.1 s, then 0.2 s (±10 %)
    assert outcomes.of_type(FAILED) == []


def test_exhausted_retries_report_failure(make_notifications, smtp, publish, sealer, outcomes):
    notifications = make_notifications(NOTIFICATIONS_MAX_ATTEMPTS="2")
    smtp.data_replies.extend(["451 4.3.0 Try again later"] * 5)
    with NotificationsWorker(notifications):
        publish("identity.user.created", events.user_created(sealer, "t-" + uuid.uuid4().hex))
        [failed] = testing.wait_for(lambda: outcomes.of_type(FAILED), message="failed after the retries")
    assert failed["data"]["permanent"] is False and failed["data"]["attempts"] == 2
    assert failed["data"]["reason"].startswith("gave up after 2 attempts") and "451" in failed["data"]["reason"]
    assert only_delivery(notifications).status == "failed_permanent"
    assert smtp.received == []


def test_reset_code_by_sms_survives_a_provider_500(notifications, sms_gateway, publish, sealer, outcomes):
    sms_gateway.script.append((500, {}, {"error": "internal error"}))
    with NotificationsWorker(notifications):
        event = publish("identity.password_reset.code_issued", events.reset_code_issued(sealer, "482913"))
        testing.wait_for(lambda: len(sms_gateway.requests) == 2, message="the retry after the 500")
        [succeeded] = testing.wait_for(lambda: outcomes.of_type(SUCCEEDED), message="succeeded")
    first, second = sms_gateway.requests
    assert second.body == first.body
    assert second.body["recipients"] == [{"msisdn": "+4512345678"}] and second.body["sender"] == "DANBIO"
    assert "Din DANBIO-kode er 482913." in second.body["message"]
    assert succeeded["data"]["channel"] == "sms" and succeeded["data"]["recipient"] == "+45******78"
    assert succeeded["data"]["event_id"] == str(event.id)
    assert [a.status for a in attempt_log(notifications, only_delivery(notifications).id)] == ["failed_temporary", "sent"]


def test_a_429_is_respected_for_as_long_as_retry_after_says(notifications, sms_gateway, publish, sealer):
    sms_gateway.script.append((429, {"Retry-After": "1"}, {"error": "rate limited"}))
    with NotificationsWorker(notifications):
        publish("identity.password_reset.code_issued", events.reset_code_issued(sealer, "120934"))
        testing.wait_for(lambda: len(sms_gateway.requests) == 2, timeout=15, message="the retry after the 429")
        testing.wait_for(lambda: only_delivery(notifications).status == "sent", message="sent")
    first, second = sms_gateway.requests
    # Our own back-off would have retried after 0.1 s; the gateway asked for 1 s.
    assert second.at - first.at >= 0.95


def test_reset_code_goes_by_email_where_there_is_no_phone(notifications, smtp, publish, sealer, sms_gateway):
    user = events.person(email="ingen.telefon@example.org", phone=None)
    with NotificationsWorker(notifications):
        publish("identity.password_reset.code_issued", events.reset_code_issued(sealer, "551203", user=user))
        [mail] = testing.wait_for(lambda: smtp.mails_to("ingen.telefon@example.org"), message="the code by e-mail")
    assert str(mail.message["Subject"]) == "Din engangskode til DANBIO"
    assert "551203" in mail.message.get_body(preferencelist=("plain",)).get_content()
    assert sms_gateway.requests == []


def test_password_changed_notice_goes_to_both_email_and_phone(notifications, smtp, sms_gateway, publish):
    user = events.person(phone="+4520304050")
    with NotificationsWorker(notifications):
        publish("identity.password.changed", {"user": user, "changed_at": events._at()})
        testing.wait_for(lambda: smtp.received and sms_gateway.requests, message="e-mail and SMS")
    assert str(smtp.received[0].message["Subject"]) == "Din adgangskode til DANBIO er ændret"
    assert sms_gateway.requests[0].body["message"].startswith("DANBIO: Din adgangskode blev ændret")


def test_the_same_event_twice_sends_once(notifications, smtp, publish, sealer):
    with NotificationsWorker(notifications):
        event = publish("identity.user.created", events.user_created(sealer, "t-" + uuid.uuid4().hex))
        publish(event.type, {}, envelope=event)  # redelivered, as after a relay's lost confirm
        testing.wait_for(lambda: smtp.received, message="the mail")
        testing.wait_for(lambda: testing.queue_depth(notifications.settings.broker_url,
                                                     "notifications.deliveries") == 0, message="the queue to drain")
        time.sleep(0.5)  # time for a second send, were there to be one
    assert len(smtp.received) == 1
    assert len(rows(notifications, deliveries)) == 1
    assert len(rows(notifications, notifications.messaging.inbox)) == 1


def test_added_to_another_hospital_and_access_removed_in_a_review_reach_the_user(notifications, smtp, publish):
    danish = events.person(phone="+4520304050")  # by e-mail only, phone or not
    english = events.person(name="Anna Smith", email="anna@example.org", locale="en")
    with NotificationsWorker(notifications):
        added = publish("identity.user.added_to_hospital", events.added_to_hospital(danish))
        removed = publish("identity.user.access_removed", events.access_removed(english))
        testing.wait_for(lambda: len(smtp.received) == 2, message="the two notices")
        time.sleep(0.3)  # time for a stray SMS or a second mail, were there to be one
    [welcome_elsewhere] = smtp.mails_to("soeren.aaberg@example.org")
    message = welcome_elsewhere.message
    assert str(message["Subject"]) == "Du har fået adgang til DANBIO på Aarhus Universitetshospital, Skejby"
    assert message["Message-ID"] == f"<{added.id}.0@danbio.example.org>"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Birthe Ødegård har givet dig adgang" in text
    assert "Reumatologisk Ambulatorium, Østfløjen, Dagafsnit Ø" in text
    [review] = smtp.mails_to("anna@example.org")
    # 82 characters with "Subject: ": folded right after the colon (legal); Python's parser keeps the space.
    assert str(review.message["Subject"]).strip() == \
        "Your access to DANBIO at Aarhus Universitetshospital, Skejby has changed"
    assert review.message["Message-ID"] == f"<{removed.id}.0@danbio.example.org>"
    assert "Reumatologisk Sengeafsnit" in review.message.get_body(preferencelist=("plain",)).get_content()
    assert sorted((row.channel, row.status) for row in rows(notifications, deliveries)) == [("email", "sent")] * 2


def test_review_overdue_reminds_each_local_administrator_in_their_language(notifications, smtp, publish):
    admins = [events.person(name="Jørgen Bæk", email="joergen@example.org"),
              events.person(name="Anna Smith", email="anna@example.org", locale="en")]
    with NotificationsWorker(notifications):
        event = publish("identity.review.overdue", events.review_overdue(admins))
        testing.wait_for(lambda: len(smtp.received) == 2, message="two reminders")
    danish, english = smtp.mails_to("joergen@example.org")[0].message, smtp.mails_to("anna@example.org")[0].message
    assert str(danish["Subject"]) == "Brugergennemgang mangler på Aarhus Universitetshospital, Skejby"
    assert str(english["Subject"]) == "User review overdue at Aarhus Universitetshospital, Skejby"
    assert {danish["Message-ID"], english["Message-ID"]} == {f"<{event.id}.0@danbio.example.org>",
                                                             f"<{event.id}.1@danbio.example.org>"}


def test_transfer_decisions_are_in_app_only_unless_e_mail_is_configured(make_notifications, smtp, publish):
    quiet = make_notifications()
    requester = events.person(name="Lægen Ærlig", email="laege@example.org")
    with NotificationsWorker(quiet):
        publish("patients.transfer.decided", events.transfer_decided(requester), producer="patients")
        testing.wait_for(lambda: rows(quiet, quiet.messaging.inbox), message="the event taken in")
    assert rows(quiet, deliveries) == [] and smtp.received == []

    loud = make_notifications(NOTIFICATIONS_TRANSFER_EMAILS="true")
    with NotificationsWorker(loud):
        publish("patients.transfer.decided", events.transfer_decided(requester), producer="patients")
        [mail] = testing.wait_for(lambda: smtp.mails_to("laege@example.org"), message="the transfer e-mail")
    assert str(mail.message["Subject"]) == "Overflytning af patient godkendt"
    assert "Medicinsk Afdeling, Ærøskøbing" in mail.message.get_body(preferencelist=("plain",)).get_content()


def test_an_attempt_cut_short_by_a_dead_worker_is_retried_with_the_same_message_id(make_notifications, smtp, publish,
                                                                                    sealer):
    notifications = make_notifications(NOTIFICATIONS_SEND_LEASE_SECONDS="0.5")
    # First the event is only taken in (consumer, no dispatcher) ...
    stop = threading.Event()
    intake = threading.Thread(target=run_worker, args=(notifications.settings, notifications.db,
                                                       notifications.messaging, build_handlers(notifications.settings)),
                              kwargs={"stop": stop}, daemon=True)
    intake.start()
    event = publish("identity.user.created", events.user_created(sealer, "t-" + uuid.uuid4().hex))
    testing.wait_for(lambda: rows(notifications, deliveries), message="the delivery queued")
    stop.set()
    intake.join(timeout=15)
    # ... then a worker claims it and dies before recording the outcome.
    with notifications.uow() as uow:
        [claim] = repo.claim_due(uow.session, now=datetime.now(timezone.utc), limit=10, lease=timedelta(seconds=0.5))
        uow.commit()
    with NotificationsWorker(notifications):
        testing.wait_for(lambda: smtp.received, message="the send after the lease ran out")
        testing.wait_for(lambda: only_delivery(notifications).status == "sent", message="sent")
    log = attempt_log(notifications, claim.id)
    assert [a.status for a in log] == ["failed_temporary", "sent"]
    assert log[0].provider_response.startswith("outcome unknown")
    assert smtp.received[0].message["Message-ID"] == f"<{event.id}.0@danbio.example.org>"
