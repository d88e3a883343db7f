"""Settings that stop start-up with a clear message, and the development mailbox."""
import json
import smtplib
import subprocess
import sys
import urllib.request
from email.message import EmailMessage

import pytest

from servicekit.config import ConfigError, describe

from notifications.devmailbox import DevMailbox
from notifications.runtime import build_runtime
from notifications.settings import NotificationsSettings
from tests.notifications.servers import free_port


def test_http_sms_needs_its_url_and_token(base_env):
    with pytest.raises(ConfigError) as error:
        build_runtime({**base_env, "NOTIFICATIONS_SMS_PROVIDER": "http"})
    assert "NOTIFICATIONS_SMS_API_URL is required" in str(error.value)
    assert "NOTIFICATIONS_SMS_API_TOKEN is required" in str(error.value)


def test_malformed_settings_are_named_and_not_echoed(base_env):
    with pytest.raises(ConfigError) as error:
        build_runtime({**base_env, "DANBIO_SEALING_KEY": "not-a-key-hemmelig", "NOTIFICATIONS_SMTP_SECURITY": "ssl3",
                       "NOTIFICATIONS_SET_PASSWORD_URL": "https://x/aktiver", "NOTIFICATIONS_SMS_SENDER": "DANBIO-REGISTRET"})
    message = str(error.value)
    for name in ("DANBIO_SEALING_KEY", "NOTIFICATIONS_SMTP_SECURITY", "NOTIFICATIONS_SET_PASSWORD_URL",
                 "NOTIFICATIONS_SMS_SENDER"):
        assert f"{name} is malformed" in message
    assert "hemmelig" not in message


def test_smtp_port_follows_the_security_setting(base_env):
    assert build_runtime({**base_env, "NOTIFICATIONS_SMTP_SECURITY": "tls"}).settings.smtp_port == 465
    assert build_runtime(base_env).settings.smtp_port == 587
    settings = build_runtime({**base_env, "NOTIFICATIONS_SMTP_SECURITY": "none", "NOTIFICATIONS_SMTP_PORT": "2525"}).settings
    assert settings.smtp_port == 2525 and settings.reply_to == settings.mail_from
    assert "<keys hidden>" in repr(settings.sealer)


def test_every_setting_is_documented():
    assert all(meaning for _name, _default, meaning in describe(NotificationsSettings, "notifications"))


def test_mailbox_is_off_unless_configured(base_env, tmp_path):
    result = subprocess.run([sys.executable, "-m", "notifications", "mailbox"], env=base_env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "NOTIFICATIONS_DEV_MAILBOX=true" in result.stderr


def test_mailbox_keeps_mail_and_shows_it_with_the_sms_outbox(tmp_path):
    outbox = tmp_path / "sms-outbox.jsonl"
    outbox.write_text(json.dumps({"at": "2026-12-03T16:00:00+00:00", "to": "+4512345678", "sender": "DANBIO",
                                  "message": "Din DANBIO-kode er 123456.", "reference": "r"}) + "\n", encoding="utf-8")
    mailbox = DevMailbox(directory=tmp_path / "mail", sms_outbox=outbox, smtp_port=free_port(),
                         http_port=free_port()).start()
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "noreply@danbio.example.org", "ny@example.org", "Velkommen – æøå"
        message.set_content("Vælg din adgangskode: https://danbio.example.org/aktiver/abc")
        message.add_alternative("<p>Vælg <a href='https://danbio.example.org/aktiver/abc'>her</a></p>", subtype="html")
        with smtplib.SMTP("127.0.0.1", mailbox.smtp.port) as smtp:
            smtp.send_message(message)
        page = urllib.request.urlopen(mailbox.url, timeout=5).read().decode()
        assert "Udviklingspostkasse" in page and "Velkommen – æøå" in page and "ny@example.org" in page
        assert "https://danbio.example.org/aktiver/abc" in page and "Din DANBIO-kode er 123456." in page
        listing = json.loads(urllib.request.urlopen(mailbox.url + "api/messages", timeout=5).read())
        [mail] = listing["emails"]
        assert mail["subject"] == "Velkommen – æøå" and mail["has_html"] is True
        html = urllib.request.urlopen(f"{mailbox.url}mail/{mail['id']}.html", timeout=5)
        assert "sandbox" in html.headers["Content-Security-Policy"] and "Vælg" in html.read().decode()
        assert listing["sms"][0]["to"] == "+4512345678"
        assert all(path.stat().st_mode & 0o077 == 0 for path in (tmp_path / "mail").iterdir())
    finally:
        mailbox.stop()
