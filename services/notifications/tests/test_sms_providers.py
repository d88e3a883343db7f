"""The SMS providers: the HTTP adapter against a real local server speaking the gateway's
contract, and the development outbox."""
import json
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from notifications.adapters.sms import SmsMessage
from notifications.adapters.sms.http import HttpSmsProvider, retry_after_seconds
from notifications.adapters.sms.outbox import OutboxSmsProvider, read_outbox
from notifications.domain.sending import FAILED_PERMANENT, FAILED_TEMPORARY, SENT
from tests.notifications.servers import SmsServer, free_port

MESSAGE = SmsMessage(to="+4512345678", text="Din DANBIO-kode er 482913. Den gælder til kl. 14:05.",
                     reference="d0c5e7a2-0000-4000-8000-000000000001")


@pytest.fixture
def gateway():
    server = SmsServer().start()
    yield server
    server.stop()


def provider(gateway, **overrides) -> HttpSmsProvider:
    options = dict(token=gateway.token, sender="DANBIO", timeout=5)
    options.update(overrides)
    return HttpSmsProvider(gateway.url, **options)


def test_posts_json_with_token_sender_e164_recipient_and_reference(gateway):
    result = provider(gateway).send(MESSAGE)
    assert result.status == SENT and result.response.startswith("HTTP 200")
    [request] = gateway.requests
    assert request.path == "/rest/mtsms"
    assert request.headers["Authorization"] == "Token test-sms-token"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.body == {"sender": "DANBIO", "message": MESSAGE.text,
                            "recipients": [{"msisdn": "+4512345678"}], "reference": MESSAGE.reference}


def test_server_errors_are_temporary_and_bad_requests_permanent(gateway):
    gateway.script.extend([(500, {}, {"error": "internal"}), (503, {}, {}),
                           (400, {}, {"code": "INVALID_RECIPIENT", "message": "invalid msisdn"})])
    assert provider(gateway).send(MESSAGE).status == FAILED_TEMPORARY
    assert provider(gateway).send(MESSAGE).status == FAILED_TEMPORARY
    refused = provider(gateway).send(MESSAGE)
    assert refused.status == FAILED_PERMANENT and "INVALID_RECIPIENT" in refused.response


def test_too_many_requests_carries_retry_after(gateway):
    gateway.script.append((429, {"Retry-After": "7"}, {"error": "slow down"}))
    result = provider(gateway).send(MESSAGE)
    assert (result.status, result.retry_after) == (FAILED_TEMPORARY, 7.0)


def test_a_wrong_token_is_temporary_so_fixing_it_lets_retries_through(gateway):
    result = provider(gateway, token="wrong").send(MESSAGE)
    assert result.status == FAILED_TEMPORARY and "HTTP 401" in result.response


def test_unreachable_gateway_is_temporary():
    result = HttpSmsProvider(f"http://127.0.0.1:{free_port()}/send", token="t", sender="DANBIO", timeout=2).send(MESSAGE)
    assert result.status == FAILED_TEMPORARY and "unreachable" in result.response


def test_retry_after_as_seconds_or_http_date():
    assert retry_after_seconds("120") == 120.0
    in_a_minute = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=60), usegmt=True)
    assert 55 <= retry_after_seconds(in_a_minute) <= 60
    assert retry_after_seconds("not a date") is None and retry_after_seconds(None) is None


def test_development_outbox_appends_json_lines_owner_only(tmp_path):
    path = tmp_path / "sms" / "outbox.jsonl"
    outbox = OutboxSmsProvider(path, sender="DANBIO")
    assert outbox.send(MESSAGE).status == SENT
    assert outbox.send(SmsMessage(to="+4587654321", text="Anden besked æøå", reference="r2")).status == SENT
    assert path.stat().st_mode & 0o077 == 0
    newest, oldest = read_outbox(path)
    assert (newest["to"], newest["message"]) == ("+4587654321", "Anden besked æøå")
    assert oldest["sender"] == "DANBIO" and oldest["reference"] == MESSAGE.reference
    assert all(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
