"""Real servers for the notifications tests: an SMTP server (aiosmtpd) and an HTTP server speaking
the SMS gateway's contract, both on 127.0.0.1, both scriptable to fail the way real ones do."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for 127.0.0.1 / localhost; the certificate is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                               x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    at: float

    @property
    def message(self):
        return message_from_bytes(self.raw, policy=policy.default)


class _Recorder:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.server.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.server.lock:
            if self.server.data_replies:
                reply = self.server.data_replies.popleft()
                self.server.refused.append(time.monotonic())
                return reply
            self.server.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos),
                                                     envelope.original_content, time.monotonic()))
        return "250 2.0.0 Ok: queued as TEST"


class SmtpServer:
    """aiosmtpd on 127.0.0.1. ``rcpt_replies``: address -> reply for RCPT (e.g. a 550);
    ``data_replies``: replies for the next DATA commands (e.g. a 451), then 250."""

    def __init__(self, *, tls: str = "none", cert: tuple[Path, Path] | None = None,
                 credentials: tuple[str, str] | None = None):
        self.port = free_port()
        self.received: list[ReceivedMail] = []
        self.refused: list[float] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_replies: deque[str] = deque()
        self.lock = threading.Lock()
        self.logins: list[str] = []
        kwargs = {}
        if tls != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            if tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True)
            else:
                kwargs.update(ssl_context=context)
        if credentials is not None:
            kwargs.update(authenticator=self._authenticator(credentials), auth_required=True,
                          auth_require_tls=tls != "none")
        self.controller = Controller(_Recorder(self), hostname="127.0.0.1", port=self.port,
                                     server_hostname="localhost", **kwargs)

    def _authenticator(self, credentials):
        def check(server, session, envelope, mechanism, auth_data):
            login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
            password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
            ok = (login, password) == credentials
            if ok:
                self.logins.append(login)
            return AuthResult(success=ok, handled=False)
        return check

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def mails_to(self, address: str) -> list[ReceivedMail]:
        with self.lock:
            return [mail for mail in self.received if address in mail.rcpt_tos]


@dataclass
class SmsRequest:
    path: str
    headers: dict[str, str]
    body: dict
    at: float


@dataclass
class SmsServer:
    """The SMS gateway's contract: JSON POST with ``Authorization: Token <t>``. ``script``: the
    (status, headers, body) answers for the next requests; then 200 with ids — and the message
    echoed back, as some gateways do (the delivery log must not keep it)."""

    token: str = "test-sms-token"
    requests: list[SmsRequest] = field(default_factory=list)
    script: deque = field(default_factory=deque)

    def __post_init__(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsable": raw.decode("utf-8", "replace")}
                server.requests.append(SmsRequest(self.path, dict(self.headers), body, time.monotonic()))
                if self.headers.get("Authorization") != f"Token {server.token}":
                    return self._answer(401, {}, {"error": "bad token"})
                if server.script:
                    return self._answer(*server.script.popleft())
                return self._answer(200, {}, {"ids": [len(server.requests)], "echo": body.get("message")})

            def _answer(self, status, headers, body):
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):  # quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/rest/mtsms"

    def start(self) -> "SmsServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
