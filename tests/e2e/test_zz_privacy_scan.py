"""Runs last in the end-to-end session (by its name): every e-mail and every SMS the stack sent
during the session, and every event it published (routing key and body), scanned for CPR-shaped
strings (none may hold one; log lines: see test_no_cpr_in_logs.py); and every answer with patient
data the session got, matched to its audit row."""
from __future__ import annotations

import json
import re

from sqlalchemy import create_engine, text

from services.patients.tests.support import cpr_leaks
from servicekit.logs import mask_cpr


def readable(message) -> str:
    """Headers and every text part, decoded (a CPR in a base64 body would not show in the raw mail)."""
    parts = [f"{name}: {value}" for name, value in message.items()]
    parts += [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join(parts)


def test_no_cpr_in_any_mail_or_sms_the_stack_sent(stack):
    mails = [readable(mail.message) for mail in stack.smtp.received]
    texts = [str(request.body) for request in stack.sms.requests]
    assert mails, "the session sent no mail: is the scan looking at the right server?"
    leaks = cpr_leaks(mails + texts)
    assert not leaks, f"{len(leaks)} message(s) hold a CPR-shaped string"


# What the patients service answered with patient data: a read, a search, a CPR lookup, a department's
# list, a platform status. Each such answer must have left an audit row carrying its request's id.
PATIENT_DATA_REQUESTS = re.compile(
    r"^(GET /patients/[0-9a-f-]{36}(/platform-status)?|POST /patients/(search|lookup)|"
    r"GET /departments/[0-9a-f-]{36}/patients)$")


def test_no_cpr_in_any_event_the_stack_published(stack, e2e_databases):
    """Every event of the session in each service's outbox: its routing key (the event type) and its
    body. Patients are named on the bus by their opaque id only."""
    published = []
    for service in ("identity", "patients", "notifications"):
        engine = create_engine(e2e_databases[service])
        try:
            with engine.connect() as connection:
                published += [f"{service} {row.event_type} {row.body}" for row in connection.execute(
                    text("SELECT event_type, body FROM outbox"))]
        finally:
            engine.dispose()
    assert any(" patients." in line for line in published), "no patients event: is the scan reading the outboxes?"
    leaks = cpr_leaks(published)
    assert not leaks, f"{len(leaks)} of {len(published)} events hold something CPR-shaped: {leaks[:3]}"


def test_every_patient_read_and_search_of_the_session_left_an_audit_row(stack, e2e_databases):
    answered = set()
    for line in stack.log("patients").splitlines():
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("msg") == "request" and entry.get("status") == 200 \
                and PATIENT_DATA_REQUESTS.match(f"{entry['method']} {entry['path']}"):
            answered.add(entry["correlation_id"])
    assert len(answered) >= 20, "the session read few patients: is the scan reading the right log?"
    engine = create_engine(e2e_databases["patients"])
    try:
        with engine.connect() as connection:
            audited = {mask_cpr(row.correlation_id) for row in connection.execute(
                text("SELECT DISTINCT correlation_id FROM audit_log WHERE correlation_id IS NOT NULL"))}
    finally:
        engine.dispose()
    unaudited = answered - audited
    assert not unaudited, f"{len(unaudited)} of {len(answered)} answers with patient data left no audit row"
