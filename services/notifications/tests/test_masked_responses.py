"""What an SMTP server or SMS gateway answers may quote the recipient ("550 5.1.1
<karen.kliniker@example.org>: Recipient address rejected", a gateway echoing the msisdn). That
answer is masked once, before it is logged, kept in the attempt log and the delivery's last
error, or published in notifications.delivery.failed — the status code and the rest of the text
stay for the operator. Unit tests of the masking, then the real dispatcher against a real SMTP
server (aiosmtpd) and a real HTTP server speaking the SMS gateway's contract, on PostgreSQL."""
import json
import logging
import time

import pytest
from sqlalchemy import select

from servicekit.events import new_event
from servicekit.logs import JsonFormatter

from notifications.adapters.tables import deliveries, delivery_attempts, messaging
from notifications.domain.masking import mask_recipient
from notifications.domain.sending import mask_personal_data
from notifications.runtime import build_runtime
from notifications.service.dispatch import Dispatcher
from notifications.service.intake import queue_messages
from tests.notifications import events

FAILED = "notifications.delivery.failed"


# -- the masking ------------------------------------------------------------------------------


def test_an_address_in_angle_brackets_is_masked_as_the_recipient_is():
    text = "recipient refused: 550 5.1.1 <karen.kliniker@example.org>: Recipient address rejected"
    assert mask_personal_data(text) == "recipient refused: 550 5.1.1 <k***@example.org>: Recipient address rejected"
    assert mask_recipient("email", "karen.kliniker@example.org") == "k***@example.org"


def test_bare_addresses_and_several_in_one_text():
    assert mask_personal_data("550 user karen.kliniker@example.org unknown") == "550 user k***@example.org unknown"
    assert (mask_personal_data("552 a.b@x.example.dk, <c+tag@y.dk> and søren.ærø@rh.regionh.dk.")
            == "552 a***@x.example.dk, <c***@y.dk> and s***@rh.regionh.dk.")
    # Cut short mid-address (the answer is truncated): nothing of the local part is left.
    assert mask_personal_data("550 5.1.1 <karen.kliniker@") == "550 5.1.1 <***"


def test_phone_numbers_e164_and_long_digit_runs_are_masked_as_the_recipient_is():
    assert mask_personal_data('HTTP 400 {"error": "invalid msisdn +4512345678"}') == \
        'HTTP 400 {"error": "invalid msisdn +45******78"}'
    assert mask_recipient("sms", "+4512345678") == "+45******78"
    assert mask_personal_data('{"recipients": [{"msisdn": 4512345678}]}') == '{"recipients": [{"msisdn": ********78}]}'
    assert mask_personal_data("til 12345678.") == "til ******78."


@pytest.mark.parametrize("text", [
    "accepted: 250 2.0.0 Ok: queued as 4F2A1B2C3D",
    "server refused: 421 4.7.0 Too busy, try again at 2026-12-03T16:00:00+00:00",
    'HTTP 200 {"ids": [1234567], "reference": "20261203-1234-4abc-8def-123456789012"}',
    "message refused: 554 5.7.1 Message rejected as spam (id abcd12345678ef)",
    "HTTP 500 internal error",
    "",
])
def test_nothing_else_is_changed(text):
    assert mask_personal_data(text) == text


# -- through the dispatcher, against real servers ------------------------------------------------


@pytest.fixture
def log_lines():
    """Every log line written meanwhile (any logger, DEBUG and up), formatted as production does."""
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record):
            if record.name != "mail.log":  # the test SMTP server's own log of what it was sent
                lines.append(self.format(record))

    handler = Capture(level=logging.DEBUG)
    handler.setFormatter(JsonFormatter("notifications"))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.fixture
def make_runtime(runtime_env, sms_gateway):
    made = []

    def make(**overrides):
        runtime = build_runtime({**runtime_env, "NOTIFICATIONS_SMS_PROVIDER": "http",
                                 "NOTIFICATIONS_SMS_API_URL": sms_gateway.url,
                                 "NOTIFICATIONS_SMS_API_TOKEN": sms_gateway.token,
                                 "NOTIFICATIONS_RETRY_BASE_SECONDS": "0.01", **overrides})
        runtime.migrate()
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.db.dispose()


def take_in(runtime, event_type, data):
    with runtime.uow() as uow:
        queue_messages(uow, new_event(event_type, data, producer="identity"), transfer_emails=False)
        uow.commit()


def dispatch(runtime) -> int:
    dispatcher, total = Dispatcher.from_settings(runtime.settings, runtime.uow), 0
    while attempted := dispatcher.dispatch_due():
        total += attempted
    return total


def stored(runtime):
    """(attempts' responses, deliveries' last errors, failed events' data) as kept in the database."""
    with runtime.db.engine.connect() as connection:
        responses = [row.provider_response for row in connection.execute(
            select(delivery_attempts).order_by(delivery_attempts.c.number))]
        last_errors = [row.last_error for row in connection.execute(select(deliveries))]
        failed = [json.loads(row.body)["data"] for row in connection.execute(
            select(messaging.outbox).where(messaging.outbox.c.event_type == FAILED))]
    return responses, last_errors, failed


def rows_but_the_recipient_columns(runtime) -> str:
    """Every stored column but ``recipient`` (the address to send to, which must be kept)."""
    with runtime.db.engine.connect() as connection:
        return "\n".join(repr({key: value for key, value in row._mapping.items() if key != "recipient"})
                         for table in (deliveries, delivery_attempts)
                         for row in connection.execute(select(table)))


def test_a_550_quoting_the_address_is_kept_and_logged_masked(make_runtime, smtp, sealer, log_lines):
    address = "karen.kliniker@example.org"
    smtp.rcpt_replies[address] = f"550 5.1.1 <{address}>: Recipient address rejected"
    runtime = make_runtime()
    take_in(runtime, "identity.user.created",
            events.user_created(sealer, "tok-refused", user=events.person(name="Karen Kliniker", email=address)))
    assert dispatch(runtime) == 1
    assert smtp.received == []

    masked = "550 5.1.1 <k***@example.org>: Recipient address rejected"
    [response], [last_error], [failed] = stored(runtime)
    assert response == f"recipient refused: {masked}"
    assert last_error == f"recipient refused: {masked}"
    assert failed["reason"] == f"recipient refused: {masked}" and failed["permanent"] is True
    assert failed["recipient"] == "k***@example.org"

    log_text = "\n".join(log_lines)
    [failure] = [json.loads(line) for line in log_lines if json.loads(line)["msg"] == "delivery failed"]
    assert failure["reason"] == f"recipient refused: {masked}" and failure["recipient"] == "k***@example.org"
    assert "550" in failure["reason"]
    for where, text in (("a log line", log_text), ("a stored row", rows_but_the_recipient_columns(runtime)),
                        ("the failed event", json.dumps(failed))):
        assert address not in text, f"the full address in {where}"
        assert "karen.kliniker" not in text, f"the address's local part in {where}"


def test_a_temporary_refusal_quoting_the_address_is_masked_in_the_retry_line_too(make_runtime, smtp, sealer,
                                                                                  log_lines):
    address = "fuld.postkasse@example.org"
    smtp.rcpt_replies[address] = f"452 4.2.2 <{address}>: Mailbox full"
    runtime = make_runtime(NOTIFICATIONS_MAX_ATTEMPTS="2")
    take_in(runtime, "identity.user.created",
            events.user_created(sealer, "tok-full", user=events.person(email=address)))
    attempts, deadline = 0, time.monotonic() + 10
    while attempts < 2 and time.monotonic() < deadline:  # tried, then (after 0.01 s) retried and given up
        attempts += dispatch(runtime)
        time.sleep(0.02)
    assert attempts == 2 and dispatch(runtime) == 0

    masked = "452 4.2.2 <f***@example.org>: Mailbox full"
    responses, [last_error], [failed] = stored(runtime)
    assert responses == [f"recipient refused: {masked}"] * 2
    assert last_error == failed["reason"] == f"gave up after 2 attempts: recipient refused: {masked}"
    retry = [json.loads(line) for line in log_lines if "will retry" in json.loads(line)["msg"]]
    assert [line["reason"] for line in retry] == [f"recipient refused: {masked}"]
    log_text = "\n".join(log_lines)
    assert address not in log_text and address not in rows_but_the_recipient_columns(runtime)
    assert address not in json.dumps(failed)


def test_an_sms_gateway_echoing_the_number_is_kept_and_logged_masked(make_runtime, sms_gateway, sealer, log_lines):
    phone = "+4522334455"
    sms_gateway.script.append((400, {}, {"error": f"invalid msisdn {phone}", "msisdn": phone[1:]}))
    runtime = make_runtime()
    take_in(runtime, "identity.password_reset.code_issued",
            events.reset_code_issued(sealer, "730561", user=events.person(phone=phone)))
    assert dispatch(runtime) == 1
    assert sms_gateway.requests[0].body["recipients"] == [{"msisdn": phone}]  # it did go to the gateway

    [response], [last_error], [failed] = stored(runtime)
    assert response == 'HTTP 400 {"error": "invalid msisdn +45******55", "msisdn": "********55"}'
    assert last_error == failed["reason"] == response and failed["recipient"] == "+45******55"
    [failure] = [json.loads(line) for line in log_lines if json.loads(line)["msg"] == "delivery failed"]
    assert failure["reason"] == response
    for text in ("\n".join(log_lines), rows_but_the_recipient_columns(runtime), json.dumps(failed)):
        assert phone[1:] not in text  # neither +4522334455 nor 4522334455
