"""Runs last in the end-to-end session (by its name): every e-mail and every SMS the stack sent
during the session, scanned for CPR-shaped strings. None may hold one. (Log lines: see
test_no_cpr_in_logs.py.)"""
from __future__ import annotations

from services.patients.tests.support import cpr_leaks


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
