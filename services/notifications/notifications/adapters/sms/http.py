"""The SMS gateway's REST API, in the style of the Danish SMS gateways:

    POST <NOTIFICATIONS_SMS_API_URL>
    Authorization: Token <NOTIFICATIONS_SMS_API_TOKEN>
    Content-Type: application/json
    {"sender": "DANBIO", "message": "...", "recipients": [{"msisdn": "+4512345678"}], "reference": "<id>"}

2xx: accepted (the answer, e.g. ``{"ids": [...]}``, goes to the delivery log). 429: wait at least
Retry-After (seconds or an HTTP date). 5xx, 408, timeouts, refused connections: temporary.
401/403: our token — temporary, so fixing it lets the retries through. Any other 4xx (invalid
number, message refused): permanent.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import requests

from ...domain.sending import SendResult
from . import SmsMessage

TEMPORARY_STATUSES = {401, 403, 408, 425, 429}


class HttpSmsProvider:
    def __init__(self, url: str, *, token: str, sender: str, timeout: float = 10.0):
        self.url, self.token, self.sender, self.timeout = url, token, sender, timeout
        self.session = requests.Session()

    def send(self, message: SmsMessage) -> SendResult:
        payload = {"sender": self.sender, "message": message.text,
                   "recipients": [{"msisdn": message.to}], "reference": message.reference}
        try:
            response = self.session.post(self.url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                                         headers={"Authorization": f"Token {self.token}",
                                                  "Content-Type": "application/json; charset=utf-8",
                                                  "Accept": "application/json"},
                                         timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            # The exception names the URL, never the token (it is in a header).
            return SendResult.temporary(f"{exc.__class__.__name__}: provider unreachable")
        answer = f"HTTP {response.status_code} {' '.join(response.text.split())}"[:300]
        status = response.status_code
        if 200 <= status < 300:
            return SendResult.sent(answer)
        if status == 429:
            return SendResult.temporary(answer, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if status >= 500 or status in TEMPORARY_STATUSES:
            return SendResult.temporary(answer)
        return SendResult.permanent(answer)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max((moment - datetime.now(timezone.utc)).total_seconds(), 0.0)
