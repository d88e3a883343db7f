"""The notifications service's settings (see servicekit.config for the shared ones)."""
from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Mapping

from servicekit.config import (ConfigError, ServiceSettings, data_dir, parse_bool, parse_positive_float,
                               parse_positive_int, setting)
from servicekit.sealed import Sealer, sealing_setting

SMTP_SECURITY = ("starttls", "tls", "none")
SMTP_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
SMS_PROVIDERS = ("http", "outbox")


def parse_choice(choices: tuple[str, ...]):
    def parse(raw: str) -> str:
        value = raw.lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value
    return parse


def parse_port(raw: str) -> int:
    port = int(raw)
    if not 0 < port < 65536:
        raise ValueError("expected a port number, 1-65535")
    return port


def parse_mailbox(raw: str) -> Address:
    """'DANBIO <noreply@danbio.dk>' or a bare address -> an Address (display name may be empty)."""
    name, address = parseaddr(raw)
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise ValueError("expected an e-mail address, optionally with a name: Name <user@domain>")
    username, domain = address.rsplit("@", 1)
    return Address(display_name=name, username=username, domain=domain)


def parse_optional_mailbox(raw: str) -> Address | None:
    return parse_mailbox(raw)


def parse_http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return raw.rstrip("/")


def parse_link_template(raw: str) -> str:
    if not raw.startswith(("http://", "https://")) or raw.count("{token}") != 1:
        raise ValueError("expected an http(s) URL containing {token} once")
    return raw


def parse_sender_name(raw: str) -> str:
    # An alphanumeric sender id is at most 11 characters (GSM 03.40).
    if not (1 <= len(raw) <= 11 and raw.isascii() and raw.replace(" ", "").isalnum()):
        raise ValueError("expected 1-11 letters or digits")
    return raw


def default_smtp_port(service: str, environ: Mapping[str, str]) -> int:
    security = (environ.get("NOTIFICATIONS_SMTP_SECURITY") or "starttls").strip().lower()
    return SMTP_DEFAULT_PORTS.get(security, 587)


def default_sms_outbox(_service: str, environ: Mapping[str, str]) -> Path:
    return data_dir(environ) / "sms-outbox.jsonl"


def default_mailbox_dir(_service: str, environ: Mapping[str, str]) -> Path:
    return data_dir(environ) / "mailbox"


@dataclass(frozen=True)
class NotificationsSettings(ServiceSettings):
    sealer: Sealer = sealing_setting()

    # -- e-mail -----------------------------------------------------------------------------------
    smtp_host: str = setting("NOTIFICATIONS_SMTP_HOST", default="localhost", doc="SMTP server host")
    smtp_security: str = setting("NOTIFICATIONS_SMTP_SECURITY", default="starttls",
                                 parse=parse_choice(SMTP_SECURITY),
                                 doc="starttls (upgrade a plain connection), tls (implicit TLS) or none")
    smtp_port: int = setting("NOTIFICATIONS_SMTP_PORT", default=default_smtp_port, parse=parse_port,
                             doc="SMTP port; default 587 for starttls, 465 for tls, 25 for none")
    smtp_username: str = setting("NOTIFICATIONS_SMTP_USERNAME", default="",
                                 doc="SMTP AUTH user; empty: no authentication")
    smtp_password: str = setting("NOTIFICATIONS_SMTP_PASSWORD", default="",
                                 doc="SMTP AUTH password (with NOTIFICATIONS_SMTP_USERNAME)")
    smtp_ca_file: str = setting("NOTIFICATIONS_SMTP_CA_FILE", default="",
                                doc="PEM file of CAs to trust for the SMTP server's certificate; empty: the system's")
    smtp_timeout: float = setting("NOTIFICATIONS_SMTP_TIMEOUT", default=30.0, parse=parse_positive_float,
                                  doc="seconds to wait for the SMTP server at each step")
    mail_from: Address = setting("NOTIFICATIONS_MAIL_FROM", default=Address("DANBIO", "noreply", "danbio.localhost"),
                                 parse=parse_mailbox,
                                 doc="From: of every e-mail, 'Name <address>'; its domain ends each Message-ID")
    mail_reply_to: Address | None = setting("NOTIFICATIONS_MAIL_REPLY_TO", default=None,
                                            parse=parse_optional_mailbox,
                                            doc="Reply-To: of every e-mail (e.g. the registry's secretariat); default: From")

    # -- links in messages ------------------------------------------------------------------------
    web_url: str = setting("NOTIFICATIONS_WEB_URL", default="http://127.0.0.1:8000", parse=parse_http_url,
                           doc="the web UI's public address, for links in messages")
    set_password_url: str = setting("NOTIFICATIONS_SET_PASSWORD_URL", default="http://127.0.0.1:8000/aktiver/{token}",
                                    parse=parse_link_template,
                                    doc="the welcome e-mail's link to choose a first password; {token} is replaced")

    # -- SMS --------------------------------------------------------------------------------------
    sms_provider: str = setting("NOTIFICATIONS_SMS_PROVIDER", default="http", parse=parse_choice(SMS_PROVIDERS),
                                doc="http (the SMS gateway's REST API) or outbox (development: a local file)")
    sms_api_url: str = setting("NOTIFICATIONS_SMS_API_URL", default="", parse=parse_http_url,
                               doc="the SMS gateway's send endpoint (JSON POST); required with provider http")
    sms_api_token: str = setting("NOTIFICATIONS_SMS_API_TOKEN", default="",
                                 doc="the SMS gateway's API token (Authorization: Token …); required with provider http")
    sms_sender: str = setting("NOTIFICATIONS_SMS_SENDER", default="DANBIO", parse=parse_sender_name,
                              doc="the sender name shown on the phone (1-11 letters or digits)")
    sms_timeout: float = setting("NOTIFICATIONS_SMS_TIMEOUT", default=10.0, parse=parse_positive_float,
                                 doc="seconds to wait for the SMS gateway")
    sms_outbox_path: Path = setting("NOTIFICATIONS_SMS_OUTBOX_PATH", default=default_sms_outbox, parse=Path,
                                    doc="the development provider's file (JSON lines); default $DANBIO_DATA_DIR/sms-outbox.jsonl")

    # -- what to send -----------------------------------------------------------------------------
    transfer_emails: bool = setting("NOTIFICATIONS_TRANSFER_EMAILS", default=False, parse=parse_bool,
                                    doc="also e-mail the requester when a patient transfer is decided (in-app always)")

    # -- delivery ---------------------------------------------------------------------------------
    retry_base_seconds: float = setting("NOTIFICATIONS_RETRY_BASE_SECONDS", default=30.0, parse=parse_positive_float,
                                        doc="wait after the first temporary failure; doubles with each further one")
    retry_max_seconds: float = setting("NOTIFICATIONS_RETRY_MAX_SECONDS", default=3600.0, parse=parse_positive_float,
                                       doc="longest wait between two attempts (also caps a provider's Retry-After)")
    max_attempts: int = setting("NOTIFICATIONS_MAX_ATTEMPTS", default=8, parse=parse_positive_int,
                                doc="attempts per message before it is given up and reported failed")
    dispatch_poll_seconds: float = setting("NOTIFICATIONS_DISPATCH_POLL_SECONDS", default=1.0,
                                           parse=parse_positive_float,
                                           doc="longest the dispatcher sleeps between looks for due messages "
                                               "(PostgreSQL wakes it at once on a new one)")
    send_lease_seconds: float = setting("NOTIFICATIONS_SEND_LEASE_SECONDS", default=300.0, parse=parse_positive_float,
                                        doc="after this long, an attempt whose worker died is taken as failed and retried")

    # -- development mailbox (`python -m notifications mailbox`) ----------------------------------
    dev_mailbox: bool = setting("NOTIFICATIONS_DEV_MAILBOX", default=False, parse=parse_bool,
                                doc="allow the development mailbox (an SMTP server and a page on 127.0.0.1); never in production")
    dev_mailbox_smtp_port: int = setting("NOTIFICATIONS_DEV_MAILBOX_SMTP_PORT", default=2525, parse=parse_port,
                                         doc="the development mailbox's SMTP port (127.0.0.1)")
    dev_mailbox_http_port: int = setting("NOTIFICATIONS_DEV_MAILBOX_HTTP_PORT", default=8025, parse=parse_port,
                                         doc="the development mailbox's page: http://127.0.0.1:<port>/")
    dev_mailbox_dir: Path = setting("NOTIFICATIONS_DEV_MAILBOX_DIR", default=default_mailbox_dir, parse=Path,
                                    doc="where the development mailbox keeps received mail; default $DANBIO_DATA_DIR/mailbox")

    def __post_init__(self) -> None:
        problems = []
        if self.sms_provider == "http":
            if not self.sms_api_url:
                problems.append("NOTIFICATIONS_SMS_API_URL is required with NOTIFICATIONS_SMS_PROVIDER=http")
            if not self.sms_api_token:
                problems.append("NOTIFICATIONS_SMS_API_TOKEN is required with NOTIFICATIONS_SMS_PROVIDER=http")
        if bool(self.smtp_username) != bool(self.smtp_password):
            problems.append("NOTIFICATIONS_SMTP_USERNAME and NOTIFICATIONS_SMTP_PASSWORD go together")
        if self.smtp_ca_file and not Path(self.smtp_ca_file).is_file():
            problems.append("NOTIFICATIONS_SMTP_CA_FILE is not a readable file")
        if problems:
            raise ConfigError("invalid settings: " + "; ".join(problems))

    @property
    def reply_to(self) -> Address:
        return self.mail_reply_to or self.mail_from
