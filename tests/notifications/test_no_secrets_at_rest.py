"""No one-time code, set-password token or link in any log line or any table row — on success,
on refusal, and when the SMS gateway echoes the message back. Everything the run logged (DEBUG
and up, every thread) and every row of notifications' database is searched."""
import uuid

from sqlalchemy import select

from servicekit import testing

from notifications.adapters.tables import delivery_attempts, metadata

from . import events
from .conftest import NotificationsWorker


def every_row_as_text(runtime) -> str:
    with runtime.db.engine.connect() as connection:
        return "\n".join(repr(tuple(row)) for table in metadata.sorted_tables
                         for row in connection.execute(select(table)))


def test_codes_and_links_appear_in_no_log_line_and_no_row(notifications, smtp, sms_gateway, publish, sealer, outcomes,
                                                            captured_logs):
    token_ok, token_refused = f"tok{uuid.uuid4().hex}", f"tok{uuid.uuid4().hex}"
    code_sms, code_refused, code_mail = "730561", "918274", "604918"
    smtp.rcpt_replies["afvist@example.org"] = "550 5.1.1 <afvist@example.org>: no such user"
    # The gateway refuses one SMS for good, echoing the message (with the code) in its answer.
    sms_gateway.script.append((400, {}, {"error": "invalid", "echo": f"Din DANBIO-kode er {code_refused}."}))
    with NotificationsWorker(notifications):
        publish("identity.password_reset.code_issued",
                events.reset_code_issued(sealer, code_refused, user=events.person(phone="+4511111111")))
        testing.wait_for(lambda: sms_gateway.requests, message="the refused SMS")
        publish("identity.user.created", events.user_created(sealer, token_ok))
        publish("identity.user.created", events.user_created(sealer, token_refused,
                                                             user=events.person(email="afvist@example.org")))
        publish("identity.password_reset.code_issued", events.reset_code_issued(sealer, code_sms))
        publish("identity.password_reset.code_issued",
                events.reset_code_issued(sealer, code_mail, user=events.person(email="kode@example.org")))
        testing.wait_for(lambda: len(outcomes.drain()) == 5, timeout=20, message="five outcomes")

    # They did go out (so the test looked where the secrets were):
    assert any(token_ok in mail.raw.decode("ascii") for mail in smtp.received)
    assert any(code_sms in request.body["message"] for request in sms_gateway.requests)
    assert any(code_mail in mail.message.get_body(preferencelist=("plain",)).get_content() for mail in smtp.received)

    secrets = [token_ok, token_refused, code_sms, code_refused, code_mail, "/aktiver/"]
    log_text = "\n".join(captured_logs)
    assert "delivery sent" in log_text and "delivery failed" in log_text  # the log did capture the run
    table_text = every_row_as_text(notifications)
    assert "sent" in table_text and "failed_permanent" in table_text
    for secret in secrets:
        assert secret not in log_text, f"{secret!r} in a log line"
        assert secret not in table_text, f"{secret!r} in a table row"
    events_text = str(outcomes.events)
    for secret in secrets:
        assert secret not in events_text

    # The gateway's echo was kept in the delivery log, redacted.
    with notifications.db.engine.connect() as connection:
        responses = [row.provider_response for row in connection.execute(select(delivery_attempts))]
    assert any("[redacted]" in response for response in responses)
