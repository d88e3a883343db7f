"""Runs last in the end-to-end session (by its name): everything the stack's processes logged, every
e-mail and every SMS they sent during the session, scanned for CPR-shaped strings. None may hold one.
"""
from __future__ import annotations

from services.patients.tests.support import cpr_leaks


def test_no_cpr_in_any_log_line_of_the_stack(stack):
    lines = [line for path in sorted(stack.log_dir.glob("*.log"))
             for line in path.read_text(errors="replace").splitlines()]
    assert len(lines) > 100, "the stack's processes logged next to nothing: is the scan looking in the right place?"
    leaks = cpr_leaks(lines)
    assert not leaks, f"{len(leaks)} log line(s) hold a CPR-shaped string, e.g. {leaks[0][:300]}"


def readable(message) -> str:
    """Headers and every text part, decoded (a CPR in a base64 body would not show in the raw mail)."""
    parts = [f"{name}: {value}" for name, value in message.items()]
    parts += [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    return "\n".join(parts)


def test_no_cpr_in_any_mail_or_sms_the_stack_sent(stack):
    mails = [readable(mail.message) for mail in stack.smtp.received]
    texts = [str(request.body) for request in stack.sms.requests]
    leaks = cpr_leaks(mails + texts)
    assert not leaks, f"{len(leaks)} message(s) hold a CPR-shaped string"
