"""The SMTP adapter against a real SMTP server (aiosmtpd): the message as sent, TLS both ways,
AUTH, and how each kind of refusal is classified."""
import email.header
from email.headerregistry import Address

import pytest

from notifications.adapters.smtp_sender import OutgoingEmail, SmtpSender, message_id
from notifications.adapters.templates import RenderedEmail
from notifications.domain.sending import FAILED_PERMANENT, FAILED_TEMPORARY, SENT
from tests.notifications.servers import SmtpServer, free_port, self_signed_certificate

SENDER = Address("Registrets sekretariat – DANBIO", "noreply", "danbio.example.org")
REPLY_TO = Address("Sekretariatet", "sekretariat", "danbio.example.org")
EVENT_ID = "3f1c2b7e-1d2a-4c5b-8e9f-0a1b2c3d4e5f"


def mail(to="soeren@example.org", name="Søren Ærø Åberg") -> OutgoingEmail:
    rendered = RenderedEmail(subject="Velkommen til DANBIO – vælg din adgangskode, Søren",
                             text="Kære Søren Ærø Åberg\n\nDu er oprettet på Aarhus Universitetshospital, Skejby.\n",
                             html="<p>Kære Søren Ærø Åberg</p><p>Blåbærgrød</p>")
    return OutgoingEmail(to_name=name, to_address=to, rendered=rendered, locale="da",
                         message_id=message_id(EVENT_ID, 0, SENDER))


def sender(server: SmtpServer, **overrides) -> SmtpSender:
    options = dict(host="127.0.0.1", port=server.port, security="none", timeout=5, sender=SENDER,
                   reply_to=REPLY_TO)
    options.update(overrides)
    return SmtpSender(**options)


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def test_sends_multipart_text_and_html_with_the_headers_mail_needs(smtp):
    result = sender(smtp).send(mail())
    assert result.status == SENT and result.response.startswith("accepted: 250")
    [received] = smtp.received
    assert received.mail_from == "noreply@danbio.example.org"
    assert received.rcpt_tos == ["soeren@example.org"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == f"<{EVENT_ID}.0@danbio.example.org>"
    assert message["Reply-To"].addresses[0].addr_spec == "sekretariat@danbio.example.org"
    assert message["Date"].datetime.tzinfo is not None
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "da"


def test_non_ascii_names_subjects_and_bodies_are_encoded_and_come_back_intact(smtp):
    sender(smtp).send(mail())
    raw = smtp.received[0].raw
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert headers.isascii(), "headers must be 7-bit: RFC 2047 encoded words"
    assert b"=?utf-8?" in headers.lower()
    message = smtp.received[0].message
    assert str(message["Subject"]) == "Velkommen til DANBIO – vælg din adgangskode, Søren"
    assert message["To"].addresses[0].display_name == "Søren Ærø Åberg"
    assert message["From"].addresses[0].display_name == "Registrets sekretariat – DANBIO"
    text = message.get_body(preferencelist=("plain",))
    assert text.get_content_charset() == "utf-8"
    assert "Kære Søren Ærø Åberg" in text.get_content()
    assert "Blåbærgrød" in message.get_body(preferencelist=("html",)).get_content()
    # Decoding the raw header by hand gives the same: no double encoding.
    subject_line = [line for line in raw.decode("ascii").split("\r\n") if line.startswith("Subject:")][0]
    assert "æ" not in subject_line and email.header.decode_header(subject_line[9:])


def test_unknown_mailbox_is_a_permanent_failure(smtp):
    smtp.rcpt_replies["nobody@example.org"] = "550 5.1.1 <nobody@example.org>: Recipient address rejected"
    result = sender(smtp).send(mail(to="nobody@example.org"))
    assert result.status == FAILED_PERMANENT
    assert "550" in result.response and "recipient refused" in result.response
    assert smtp.received == []


def test_greylisting_and_full_queues_are_temporary(smtp):
    smtp.rcpt_replies["later@example.org"] = "450 4.2.0 <later@example.org>: Greylisted, try again"
    assert sender(smtp).send(mail(to="later@example.org")).status == FAILED_TEMPORARY
    smtp.data_replies.append("451 4.3.0 Local error in processing")
    result = sender(smtp).send(mail())
    assert result.status == FAILED_TEMPORARY and "451" in result.response


def test_content_refused_at_data_is_permanent(smtp):
    smtp.data_replies.append("554 5.7.1 Message rejected as spam")
    result = sender(smtp).send(mail())
    assert result.status == FAILED_PERMANENT and "554" in result.response


def test_no_server_listening_is_temporary():
    result = SmtpSender(host="127.0.0.1", port=free_port(), security="none", timeout=2, sender=SENDER,
                        reply_to=REPLY_TO).send(mail())
    assert result.status == FAILED_TEMPORARY and "ConnectionRefused" in result.response


def test_starttls_with_authentication(tmp_path):
    cert = self_signed_certificate(tmp_path)
    server = SmtpServer(tls="starttls", cert=cert, credentials=("danbio", "hemmeligt-42")).start()
    try:
        ok = sender(server, security="starttls", ca_file=str(cert[0]), username="danbio",
                    password="hemmeligt-42").send(mail())
        assert ok.status == SENT, ok.response
        assert server.logins == ["danbio"] and len(server.received) == 1
        wrong = sender(server, security="starttls", ca_file=str(cert[0]), username="danbio", password="forkert").send(mail())
        assert wrong.status == FAILED_TEMPORARY and "authentication failed" in wrong.response
        # Not trusting the server's certificate: refused before anything is sent.
        untrusted = sender(server, security="starttls", username="danbio", password="hemmeligt-42").send(mail())
        assert untrusted.status == FAILED_TEMPORARY and "CERTIFICATE_VERIFY_FAILED" in untrusted.response
        # Plain SMTP to a server that requires STARTTLS: it refuses.
        plain = sender(server).send(mail())
        assert plain.status == FAILED_TEMPORARY
        assert len(server.received) == 1
    finally:
        server.stop()


def test_implicit_tls(tmp_path):
    cert = self_signed_certificate(tmp_path)
    server = SmtpServer(tls="tls", cert=cert).start()
    try:
        result = sender(server, security="tls", ca_file=str(cert[0])).send(mail())
        assert result.status == SENT, result.response
        assert len(server.received) == 1
    finally:
        server.stop()
