"""E-mail over SMTP: STARTTLS, implicit TLS or plain; AUTH when configured.

Every attempt opens its own connection: deliveries are few, and a fresh connection has no stale
state after a failure. The outcome is classified the way SMTP means it: a 4xx reply or a broken
connection is temporary, a 5xx reply to the recipient or the message is permanent. Problems on
our side (AUTH refused, sender refused, no STARTTLS) are temporary: fixing the configuration lets
the retries through.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from datetime import datetime, timezone

from ..domain.sending import SendResult
from .templates import RenderedEmail


@dataclass(frozen=True)
class OutgoingEmail:
    to_name: str
    to_address: str
    rendered: RenderedEmail
    message_id: str          # <...@domain>, derived from the event id
    locale: str
    date: datetime | None = None


# 7-bit clean (quoted-printable / base64 bodies, RFC 2047 headers): safe with any server, 8BITMIME or not.
SMTP_POLICY = SMTP.clone(cte_type="7bit")


def _address(name: str, address: str) -> Address:
    username, _, domain = address.rpartition("@")
    return Address(display_name=name, username=username, domain=domain)


def build_message(mail: OutgoingEmail, *, sender: Address, reply_to: Address) -> EmailMessage:
    """multipart/alternative (text, then HTML), UTF-8, with RFC 2047-encoded headers where needed."""
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = sender
    message["To"] = _address(mail.to_name, mail.to_address)
    message["Reply-To"] = reply_to
    message["Subject"] = mail.rendered.subject
    message["Date"] = format_datetime(mail.date or datetime.now(timezone.utc))
    message["Message-ID"] = mail.message_id
    # RFC 3834: no out-of-office replies to an automatic message.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(mail.rendered.html, subtype="html", charset="utf-8")
    message["Content-Language"] = mail.locale  # after add_alternative, which moves Content-* headers
    return message


def message_id(event_id: str, ordinal: int, sender: Address) -> str:
    """The same for every attempt and resend of one delivery: a duplicate is recognisable."""
    return f"<{event_id}.{ordinal}@{sender.domain}>"


class SmtpSender:
    def __init__(self, *, host: str, port: int, security: str, username: str = "", password: str = "",
                 timeout: float = 30.0, ca_file: str = "", sender: Address, reply_to: Address):
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self.sender, self.reply_to = sender, reply_to
        self.tls_context = ssl.create_default_context(cafile=ca_file or None)

    @classmethod
    def from_settings(cls, settings) -> "SmtpSender":
        return cls(host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
                   username=settings.smtp_username, password=settings.smtp_password,
                   timeout=settings.smtp_timeout, ca_file=settings.smtp_ca_file,
                   sender=settings.mail_from, reply_to=settings.reply_to)

    def send(self, mail: OutgoingEmail) -> SendResult:
        data = build_message(mail, sender=self.sender, reply_to=self.reply_to).as_bytes()
        smtp = None
        try:
            smtp = self._connect()
            smtp.ehlo_or_helo_if_needed()
            if self.username:
                smtp.login(self.username, self.password)
            code, reply = smtp.mail(self.sender.addr_spec)
            if code != 250:
                return SendResult.temporary(_reply(code, reply, "sender refused"))
            code, reply = smtp.rcpt(mail.to_address)
            if code not in (250, 251):
                return self._by_code(code, reply, "recipient refused")
            code, reply = smtp.data(data)  # raises only if DATA itself is refused (not 354)
            if code != 250:
                return self._by_code(code, reply, "message refused")
            return SendResult.sent(_reply(code, reply, "accepted"))
        except smtplib.SMTPDataError as exc:
            return self._by_code(exc.smtp_code, exc.smtp_error, "message refused")
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult.temporary(_reply(exc.smtp_code, exc.smtp_error, "authentication failed"))
        except smtplib.SMTPNotSupportedError as exc:
            return SendResult.temporary(f"server does not offer what is configured: {exc}"[:300])
        except smtplib.SMTPResponseException as exc:
            # Refused at connect, HELO or STARTTLS: about the server, not this message.
            return SendResult.temporary(_reply(exc.smtp_code, exc.smtp_error, "server refused"))
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            return SendResult.temporary(f"{exc.__class__.__name__}: {exc}"[:300])
        finally:
            if smtp is not None:
                _close_quietly(smtp)

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.tls_context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=self.tls_context)
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    @staticmethod
    def _by_code(code: int, reply: bytes | str, what: str) -> SendResult:
        text = _reply(code, reply, what)
        return SendResult.permanent(text) if 500 <= code < 600 else SendResult.temporary(text)


def _reply(code: int, reply: bytes | str, what: str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return f"{what}: {code} {' '.join(reply.split())}"[:300]


def _close_quietly(smtp: smtplib.SMTP) -> None:
    """QUIT, ignoring errors: once DATA was accepted the message is the server's, whatever follows."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
