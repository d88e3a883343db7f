"""identity.password_reset.link_issued (issue 5, "Nulstil kode"): the link by e-mail, and an SMS
without the link where the user has a phone — through the real bus, SMTP and SMS servers."""
import uuid
from datetime import datetime, timedelta, timezone

from servicekit import testing

from . import events
from .conftest import NotificationsWorker


def link_issued(sealer, token, user):
    return {"user": user, "set_password_token": sealer.seal(token), "issued_by": "Åse Ådmin",
            "expires_at": (datetime.now(timezone.utc) + timedelta(hours=72)).isoformat()}


def test_reset_link_by_email_and_a_notice_without_the_link_by_sms(notifications, smtp, sms_gateway, publish, sealer):
    token = f"reset-{uuid.uuid4().hex}"
    user = events.person(phone="+4520304050")
    with NotificationsWorker(notifications):
        publish("identity.password_reset.link_issued", link_issued(sealer, token, user))
        [mail] = testing.wait_for(lambda: smtp.mails_to(user["email"]), message="the reset link by e-mail")
        [sms] = testing.wait_for(lambda: sms_gateway.requests, message="the SMS notice")
    assert str(mail.message["Subject"]) == "Vælg en ny adgangskode til DANBIO"
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    assert f"https://danbio.example.org/aktiver/{token}" in text and "Åse Ådmin" in text
    assert sms.body["message"].startswith("DANBIO: Din bruger er låst op. Vi har sendt et link til din e-mail")
    assert token not in sms.body["message"] and "aktiver" not in sms.body["message"]


def test_reset_link_without_phone_is_email_only_and_english_for_en(notifications, smtp, sms_gateway, publish, sealer):
    user = events.person(phone=None, locale="en", email="no.phone@example.org")
    with NotificationsWorker(notifications):
        publish("identity.password_reset.link_issued", link_issued(sealer, "T" * 20, user))
        [mail] = testing.wait_for(lambda: smtp.mails_to("no.phone@example.org"), message="the reset link")
    assert str(mail.message["Subject"]) == "Choose a new password for DANBIO"
    assert sms_gateway.requests == []
