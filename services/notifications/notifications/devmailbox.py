"""The development mailbox for `make run`: an SMTP server (aiosmtpd) that keeps every message it
receives, and a page that shows them beside the development SMS outbox — so a person trying the
system sees the welcome mail and the SMS code. Listens on 127.0.0.1 only; off unless
NOTIFICATIONS_DEV_MAILBOX is on. Never for production: it keeps links and codes in plain files.

    python -m notifications mailbox     # SMTP on :2525, page on http://127.0.0.1:8025/
"""
from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
import uuid
from datetime import datetime, timezone
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller
from flask import Flask, Response, abort, jsonify, render_template
from werkzeug.serving import make_server

from .adapters.sms.outbox import read_outbox

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_NAME = re.compile(r"^[0-9TZ_-]+[0-9a-f]{32}\.eml$")


class MailStore:
    """Received messages as .eml files, one per message, owner-only."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def save(self, content: bytes) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S_%fZ}-{uuid.uuid4().hex}.eml"
        fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        return name

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted((p.name for p in self.directory.iterdir() if _NAME.match(p.name)), reverse=True)

    def read(self, name: str):
        if not _NAME.match(name) or not (self.directory / name).is_file():
            return None
        return message_from_bytes((self.directory / name).read_bytes(), policy=policy.default)

    def summary(self, name: str) -> dict:
        message = self.read(name)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        return {"id": name, "from": str(message["From"] or ""), "to": str(message["To"] or ""),
                "subject": str(message["Subject"] or ""), "date": str(message["Date"] or ""),
                "message_id": str(message["Message-ID"] or ""),
                "text": text.get_content() if text is not None else "",
                "has_html": html is not None}


class _StoringHandler:
    def __init__(self, store: MailStore):
        self.store = store

    async def handle_DATA(self, server, session, envelope):
        name = self.store.save(envelope.original_content or envelope.content)
        log.info("development mailbox received a message", extra={"file": name})
        return "250 2.0.0 Ok: kept in the development mailbox"


def create_page(store: MailStore, sms_outbox: Path, *, smtp_port: int) -> Flask:
    app = Flask("notifications.devmailbox")

    @app.get("/")
    def index():
        mails = [store.summary(name) for name in store.names()]
        return render_template("devmailbox.html", mails=mails, sms=read_outbox(sms_outbox),
                               smtp=f"{HOST}:{smtp_port}")

    @app.get("/mail/<name>.html")
    def mail_html(name: str):
        message = store.read(name)
        part = message.get_body(preferencelist=("html",)) if message is not None else None
        if part is None:
            abort(404)
        # Shown in a sandboxed frame: the mail's HTML runs no script and reaches nothing.
        return Response(part.get_content(), mimetype="text/html",
                        headers={"Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'"})

    @app.get("/api/messages")
    def messages():
        return jsonify({"emails": [store.summary(name) for name in store.names()], "sms": read_outbox(sms_outbox)})

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


class DevMailbox:
    """The SMTP server and the page, in this process's threads."""

    def __init__(self, *, directory: Path, sms_outbox: Path, smtp_port: int, http_port: int):
        self.store = MailStore(directory)
        self.smtp = Controller(_StoringHandler(self.store), hostname=HOST, port=smtp_port)
        self.page = make_server(HOST, http_port, create_page(self.store, sms_outbox, smtp_port=smtp_port),
                                threaded=True)
        self._page_thread = threading.Thread(target=self.page.serve_forever, name="mailbox-page", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.page.server_port}/"

    def start(self) -> "DevMailbox":
        self.smtp.start()
        self._page_thread.start()
        return self

    def stop(self) -> None:
        self.page.shutdown()
        self.smtp.stop()


def serve(settings) -> int:
    if not settings.dev_mailbox:
        print("the development mailbox is off: set NOTIFICATIONS_DEV_MAILBOX=true (development only)", file=sys.stderr)
        return 2
    logging.getLogger("mail.log").setLevel(logging.INFO)  # aiosmtpd's DEBUG prints every line received
    mailbox = DevMailbox(directory=settings.dev_mailbox_dir, sms_outbox=settings.sms_outbox_path,
                         smtp_port=settings.dev_mailbox_smtp_port, http_port=settings.dev_mailbox_http_port).start()
    log.info("development mailbox started", extra={"page": mailbox.url,
                                                   "smtp": f"{HOST}:{settings.dev_mailbox_smtp_port}"})
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    mailbox.stop()
    return 0
