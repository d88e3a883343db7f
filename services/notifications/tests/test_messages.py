"""Which messages each event asks for, and how they read: every purpose in both languages."""
import uuid

import pytest

from servicekit import contracts
from servicekit.errors import ContractError

from notifications.adapters.templates import has_sms, render_email, render_sms
from notifications.domain.masking import mask_email, mask_phone
from notifications.domain.planning import plan_deliveries
from notifications.domain.sending import backoff_seconds, redact
from tests.notifications import events

EXAMPLES = {
    "welcome": {"name": "Søren Ærø", "username": "soeren", "hospital": "Rigshospitalet, Glostrup",
                "departments": ["Reumatologi"], "created_by": "Åse", "link_expires_at": "2026-12-06T10:00:00+00:00",
                "link": "https://danbio.example.org/aktiver/T"},
    "password_reset_code": {"name": "Søren", "code": "123456", "code_expires_at": "2026-07-01T10:05:00+00:00"},
    "password_changed": {"name": "Søren", "changed_at": "2026-12-03T16:00:00+00:00"},
    "contact_changed": {"name": "Søren", "changed": ["phone"], "new_phone": "+4587654321",
                        "new_email": "s@example.org", "changed_at": "2026-12-03T16:00:00+00:00"},
    "added_to_hospital": {"name": "Søren", "hospital": "Aalborg Universitetshospital", "departments": ["A", "B"],
                          "added_by": None},
    "access_removed": {"name": "Søren", "hospital": "Vejle Sygehus", "departments": ["Reumatologi"],
                       "removed_at": "2026-12-03T16:00:00+00:00"},
    "review_overdue": {"name": "Jørgen", "hospital": "Holbæk Sygehus", "last_review_at": None,
                       "overdue_since": "2026-12-03T16:00:00+00:00"},
    "password_reset_link": {"name": "Søren", "issued_by": "Åse Admin", "link_expires_at": "2026-12-06T10:00:00+00:00",
                            "link": "https://danbio.example.org/aktiver/T"},
    "transfer_decided": {"name": "Søren", "decision": "rejected", "reason": "Forkert afdeling",
                         "from_department": {"name": "A", "hospital_name": "H"},
                         "to_department": {"name": "B", "hospital_name": "I"}, "decided_at": "2026-12-03T16:00:00+00:00"},
}


@pytest.mark.parametrize("purpose", contracts.NOTIFICATION_PURPOSES)
@pytest.mark.parametrize("locale", ["da", "en"])
def test_every_purpose_renders_in_both_languages(purpose, locale):
    rendered = render_email(purpose, locale, {**EXAMPLES[purpose], "web_url": "https://danbio.example.org"})
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.endswith("\n") and "\n\n\n" not in rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>") and f'lang="{locale}"' in rendered.html
    greeting = "Kære" if locale == "da" else "Dear"
    assert rendered.text.startswith(f"{greeting} {EXAMPLES[purpose]['name']}")


def test_danish_dates_are_in_danish_time_and_words():
    text = render_email("password_changed", "da", {**EXAMPLES["password_changed"], "web_url": "x"}).text
    assert "3. december 2026 kl. 17:00" in text  # 16:00 UTC is 17:00 in Copenhagen in winter
    english = render_email("password_changed", "en", {**EXAMPLES["password_changed"], "web_url": "x"}).text
    assert "3 December 2026 at 17:00" in english
    sms = render_sms("password_reset_code", "da", EXAMPLES["password_reset_code"])
    assert sms == ("Din DANBIO-kode er 123456. Den gælder til kl. 12:05 og kan kun bruges én gang. "
                   "Del den ikke med nogen.")  # summer time: UTC+2


def test_names_are_escaped_in_html_but_not_in_text():
    variables = {**EXAMPLES["welcome"], "name": "Ærlig <script>alert(1)</script> & Co", "web_url": "x"}
    rendered = render_email("welcome", "da", variables)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html and "&amp; Co" in rendered.html
    assert "Kære Ærlig <script>alert(1)</script> & Co" in rendered.text


def test_sms_exists_only_where_a_message_goes_by_sms():
    assert {purpose for purpose in contracts.NOTIFICATION_PURPOSES if has_sms(purpose)} == {
        "password_reset_code", "password_changed", "contact_changed", "password_reset_link"}


def test_plans(sealer):
    with_phone = events.person(phone="+4512345678")
    reset = contracts.validate("identity.password_reset.code_issued", 1,
                               events.reset_code_issued(sealer, "123456", user=with_phone))
    [sms] = plan_deliveries("identity.password_reset.code_issued", reset, transfer_emails=False)
    assert (sms.channel, sms.recipient, sms.sealed_secret) == ("sms", "+4512345678", reset["code"])
    assert "123456" not in str(sms.context) and reset["code"] not in str(sms.context)

    changed = contracts.validate("identity.password.changed", 1,
                                 {"user": with_phone, "changed_at": "2026-12-03T16:00:00+00:00"})
    assert [(p.channel, p.ordinal) for p in plan_deliveries("identity.password.changed", changed,
                                                            transfer_emails=False)] == [("email", 0), ("sms", 1)]
    transfer = contracts.validate("patients.transfer.decided", 1, events.transfer_decided(events.person(email=None)))
    assert plan_deliveries("patients.transfer.decided", transfer, transfer_emails=True) == []


def test_contracts_refuse_plaintext_secrets_and_bad_addresses(sealer):
    data = events.reset_code_issued(sealer, "123456")
    with pytest.raises(ContractError) as refused:
        contracts.validate("identity.password_reset.code_issued", 1, {**data, "code": "123456"})
    assert "123456" not in str(refused.value)
    for user in ({**data["user"], "phone": "12345678"}, {**data["user"], "phone": None, "email": None},
                 {**data["user"], "locale": "de"}):
        with pytest.raises(ContractError):
            contracts.validate("identity.password_reset.code_issued", 1, {**data, "user": user})
    created = events.user_created(sealer, "t")
    with pytest.raises(ContractError):
        contracts.validate("identity.user.created", 1, {**created, "user": {**created["user"], "email": None}})
    with pytest.raises(ContractError):
        contracts.validate("identity.review.overdue", 1, events.review_overdue([]))
    outcome = {"delivery_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()), "event_type": "identity.user.created",
               "purpose": "welcome", "channel": "email", "recipient": "s***@example.org", "user_id": None,
               "attempts": 1, "failed_at": "2026-12-03T16:00:00+00:00", "permanent": True, "reason": "550"}
    assert contracts.validate("notifications.delivery.failed", 1, outcome)["permanent"] is True


def test_masking_backoff_and_redaction():
    assert mask_email("soeren.aaberg@example.org") == "s***@example.org"
    assert mask_phone("+4512345678") == "+45******78"
    delays = [backoff_seconds(n, base=30, maximum=3600, jitter=0) for n in range(1, 9)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert backoff_seconds(1, base=0.1, maximum=60, retry_after=5) == 5
    assert backoff_seconds(1, base=0.1, maximum=60, retry_after=7200) == 60
    assert redact('{"echo": "Din kode er 123456"}', ["123456"]) == '{"echo": "Din kode er [redacted]"}'


def test_a_changed_phone_is_told_to_the_previous_phone_and_address():
    data = contracts.validate("identity.user.contact_changed", 1, {
        "user": events.person(phone="+4587654321"), "changed": ["phone"], "previous_phone": "+4512345678",
        "previous_email": "gammel@example.org", "changed_at": "2026-12-03T16:00:00+00:00"})
    planned = plan_deliveries("identity.user.contact_changed", data, transfer_emails=False)
    assert [(p.channel, p.recipient) for p in planned] == [("email", "gammel@example.org"), ("sms", "+4512345678")]
    sms = render_sms("contact_changed", "da", planned[1].context)
    assert "Telefonnummeret" in sms and "+4587654321" not in sms
