"""`make run` without servers: notifications' worker and the development mailbox as their own
processes on the embedded defaults (SQLite, broker-less transport). A welcome mail and an SMS code
published as identity would appear on the mailbox page."""
import json
import os
import subprocess
import sys
import urllib.request

from servicekit import testing
from servicekit.events import new_event
from servicekit.messaging.broker import ConfirmingPublisher, OutgoingMessage, connect
from servicekit.sealed import Sealer, generate_key

from tests.bus.harness import REPO, WorkerProcess

from . import events
from .servers import free_port


def test_welcome_mail_and_sms_code_show_on_the_development_mailbox_page(tmp_path):
    key = generate_key()
    smtp_port, http_port = free_port(), free_port()
    env = {name: value for name, value in os.environ.items()
           if not name.endswith("_DATABASE_URL") and name != "DANBIO_BROKER_URL"}
    env.update({"DANBIO_DATA_DIR": str(tmp_path), "DANBIO_SEALING_KEY": key, "DANBIO_RELAY_IDLE_WAIT": "0.2",
                "NOTIFICATIONS_DEV_MAILBOX": "true", "NOTIFICATIONS_DEV_MAILBOX_SMTP_PORT": str(smtp_port),
                "NOTIFICATIONS_DEV_MAILBOX_HTTP_PORT": str(http_port), "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
                "NOTIFICATIONS_SMTP_PORT": str(smtp_port), "NOTIFICATIONS_SMTP_SECURITY": "none",
                "NOTIFICATIONS_SMS_PROVIDER": "outbox", "NOTIFICATIONS_DISPATCH_POLL_SECONDS": "0.2"})
    subprocess.run([sys.executable, "-m", "notifications", "migrate"], cwd=REPO, env=env, check=True,
                   capture_output=True, timeout=120)
    with open(tmp_path / "mailbox.log", "ab") as log:
        mailbox = subprocess.Popen([sys.executable, "-m", "notifications", "mailbox"], cwd=REPO, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    worker = WorkerProcess("notifications", env, tmp_path / "worker.log").start()
    page = f"http://127.0.0.1:{http_port}/"
    try:
        testing.wait_for(lambda: _get(page + "healthz"), timeout=20, message="the mailbox page")
        sealer = Sealer(key)
        publisher = ConfirmingPublisher(connect(f"sqla+sqlite:///{tmp_path / 'bus.db'}"), retry_delays_ms=(1000,))
        welcome = new_event("identity.user.created", events.user_created(sealer, "udvikler-token-42"), producer="identity")
        code = new_event("identity.password_reset.code_issued", events.reset_code_issued(sealer, "246810"),
                         producer="identity")
        publisher.publish([OutgoingMessage(str(e.id), e.type, e.to_json()) for e in (welcome, code)])
        publisher.connection.release()

        listing = testing.wait_for(lambda: _messages(page, need_mail=1, need_sms=1), timeout=30,
                                   message="the welcome mail and the SMS on the mailbox page")
        [mail] = listing["emails"]
        assert mail["subject"] == "Velkommen til DANBIO – vælg din adgangskode"
        assert "http://127.0.0.1:8000/aktiver/udvikler-token-42" in mail["text"]
        assert "Din DANBIO-kode er 246810." in listing["sms"][0]["message"]
        html = _get(page)
        assert "Velkommen til DANBIO" in html and "246810" in html
    finally:
        worker.terminate()
        mailbox.terminate()
        assert mailbox.wait(timeout=15) == 0  # SIGTERM stops it cleanly


def _get(url: str) -> str | None:
    try:
        return urllib.request.urlopen(url, timeout=2).read().decode()
    except OSError:
        return None


def _messages(page: str, *, need_mail: int, need_sms: int):
    body = _get(page + "api/messages")
    listing = json.loads(body) if body else {"emails": [], "sms": []}
    return listing if len(listing["emails"]) >= need_mail and len(listing["sms"]) >= need_sms else None
