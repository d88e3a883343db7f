"""SMS through one interface: ``provider.send(SmsMessage) -> SendResult``; which provider is a setting."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ...domain.sending import SendResult


@dataclass(frozen=True)
class SmsMessage:
    to: str           # E.164
    text: str
    reference: str    # the delivery's id: lets the provider (and a person) match duplicates


class SmsProvider(Protocol):
    def send(self, message: SmsMessage) -> SendResult: ...


def provider_from_settings(settings) -> SmsProvider:
    if settings.sms_provider == "outbox":
        from .outbox import OutboxSmsProvider

        return OutboxSmsProvider(settings.sms_outbox_path, sender=settings.sms_sender)
    from .http import HttpSmsProvider

    return HttpSmsProvider(settings.sms_api_url, token=settings.sms_api_token, sender=settings.sms_sender,
                           timeout=settings.sms_timeout)
