"""Sending queued messages: claim, send, record — each step its own short transaction.

1. claim (commit): lease the delivery and log the attempt as ``queued``;
2. send, outside any transaction: open the sealed secret in memory, render, hand the message to
   the SMTP server or SMS provider;
3. record (commit): the attempt's outcome, the delivery's new status, and — when it is final —
   ``notifications.delivery.succeeded`` / ``.failed`` in the outbox, in the same transaction.

The crash window is between the server's acceptance in step 2 and the commit of step 3: one
commit's worth of time. A worker that dies there leaves an attempt ``queued`` with a lease; when
the lease runs out the attempt is closed as 'outcome unknown' and the message is sent again, with
the same Message-ID (SMS: the same reference), so the duplicate is recognisable. At least once,
never silently lost.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from servicekit.sealed import Sealer, SealingError
from servicekit.uow import UnitOfWork

from ..adapters import delivery_repository as repo
from ..adapters.delivery_repository import Claim
from ..adapters.sms import SmsMessage, SmsProvider
from ..adapters.smtp_sender import OutgoingEmail, SmtpSender, message_id
from ..adapters.templates import render_email, render_sms
from ..domain.masking import mask_recipient
from ..domain.planning import LINK_PURPOSES, carries_secret
from ..domain.sending import (FAILED_PERMANENT, FAILED_TEMPORARY, SENT, SendResult, backoff_seconds,
                               mask_personal_data, redact)

log = logging.getLogger(__name__)

SUCCEEDED = "notifications.delivery.succeeded"
FAILED = "notifications.delivery.failed"


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float
    max_seconds: float
    max_attempts: int


class Dispatcher:
    def __init__(self, new_uow: Callable[[], UnitOfWork], *, email: SmtpSender, sms: SmsProvider, sealer: Sealer,
                 policy: RetryPolicy, web_url: str, set_password_url: str, lease: timedelta, batch_size: int = 1):
        # One claim per send by default: the lease then covers exactly one send, however slow the
        # ones before it were (a batch of slow sends could outlive its lease and be sent twice).
        self.new_uow = new_uow
        self.email, self.sms, self.sealer = email, sms, sealer
        self.policy, self.web_url, self.set_password_url = policy, web_url, set_password_url
        self.lease, self.batch_size = lease, batch_size

    @classmethod
    def from_settings(cls, settings, new_uow: Callable[[], UnitOfWork]) -> "Dispatcher":
        from ..adapters.sms import provider_from_settings

        return cls(new_uow, email=SmtpSender.from_settings(settings), sms=provider_from_settings(settings),
                   sealer=settings.sealer,
                   policy=RetryPolicy(settings.retry_base_seconds, settings.retry_max_seconds, settings.max_attempts),
                   web_url=settings.web_url, set_password_url=settings.set_password_url,
                   lease=timedelta(seconds=settings.send_lease_seconds))

    def dispatch_due(self) -> int:
        """Send one batch of due messages; return how many were attempted."""
        with self.new_uow() as uow:
            claims = repo.claim_due(uow.session, now=_now(), limit=self.batch_size, lease=self.lease)
            uow.commit()
        for claim in claims:
            started = time.perf_counter()
            result, secrets = self._send(claim)
            # Before anything logs, stores or publishes the answer: no secret, no address or number.
            result = SendResult(result.status, mask_personal_data(redact(result.response, secrets)),
                                result.retry_after)
            del secrets
            self._record(claim, result, elapsed_ms=(time.perf_counter() - started) * 1000)
        return len(claims)

    # -- step 2: send ---------------------------------------------------------------------------

    def _send(self, claim: Claim) -> tuple[SendResult, list[str]]:
        """Attempt the delivery; the opened secret never leaves this call but for redaction."""
        variables = {**claim.context, "web_url": self.web_url}
        secrets: list[str] = []
        if carries_secret(claim.purpose, claim.channel):
            if claim.sealed_secret is None:
                return SendResult.permanent("the link or code in this message is no longer available"), secrets
            if claim.secret_expires_at is not None and claim.secret_expires_at <= _now():
                return SendResult.permanent("the link or code expired before the message could be sent"), secrets
            try:
                secret = self.sealer.open(claim.sealed_secret)
            except SealingError:
                return SendResult.permanent("the sealed link or code could not be opened (sealing key mismatch)"), secrets
            secrets.append(secret)
            if claim.purpose in LINK_PURPOSES:
                variables["link"] = self.set_password_url.replace("{token}", secret)
            else:
                variables["code"] = secret
        try:
            if claim.channel == "email":
                rendered = render_email(claim.purpose, claim.locale, variables)
                return self.email.send(OutgoingEmail(
                    to_name=claim.recipient_name, to_address=claim.recipient, rendered=rendered, locale=claim.locale,
                    message_id=message_id(str(claim.event_id), claim.ordinal, self.email.sender))), secrets
            text = render_sms(claim.purpose, claim.locale, variables)
            return self.sms.send(SmsMessage(to=claim.recipient, text=text, reference=str(claim.id))), secrets
        except Exception as exc:  # a bug of ours (template, adapter): retried, then reported failed
            error = mask_personal_data(redact(f"{exc.__class__.__name__}: {exc}", secrets))
            log.error("delivery attempt crashed", extra={"delivery_id": str(claim.id), "error": error[:300]})
            return SendResult.temporary(f"internal error: {exc.__class__.__name__}"), secrets

    # -- step 3: record -------------------------------------------------------------------------

    def _record(self, claim: Claim, result: SendResult, *, elapsed_ms: float) -> None:
        now = _now()
        status, reason, delay = result.status, result.response, None
        if status == FAILED_TEMPORARY:
            delay = backoff_seconds(claim.series_attempts, base=self.policy.base_seconds,
                                    maximum=self.policy.max_seconds, retry_after=result.retry_after)
            if claim.series_attempts >= self.policy.max_attempts:
                status, reason = FAILED_PERMANENT, f"gave up after {claim.series_attempts} attempts: {result.response}"
            elif (carries_secret(claim.purpose, claim.channel) and claim.secret_expires_at is not None
                  and now + timedelta(seconds=delay) >= claim.secret_expires_at):
                status, reason = FAILED_PERMANENT, f"the link or code expires before the next attempt: {result.response}"
        masked = mask_recipient(claim.channel, claim.recipient)
        fields = {"delivery_id": str(claim.id), "event_id": str(claim.event_id), "purpose": claim.purpose,
                  "channel": claim.channel, "recipient": masked, "attempt": claim.attempt, "ms": round(elapsed_ms, 1)}
        with self.new_uow() as uow:
            session = uow.session
            repo.finish_attempt(session, claim, status=result.status, response=result.response, now=now)
            if status == SENT:
                repo.update_delivery(session, claim.id, status=SENT, sent_at=now, updated_at=now, lease_until=None,
                                     next_attempt_at=None, last_error=None, sealed_secret=None)
                uow.emit(SUCCEEDED, {**self._outcome(claim, masked), "sent_at": now.isoformat()})
            elif status == FAILED_TEMPORARY:
                repo.update_delivery(session, claim.id, status=FAILED_TEMPORARY, updated_at=now, lease_until=None,
                                     next_attempt_at=now + timedelta(seconds=delay), last_error=reason[:500])
            else:
                expired = claim.secret_expires_at is not None and claim.secret_expires_at <= now
                repo.update_delivery(session, claim.id, status=FAILED_PERMANENT, updated_at=now, lease_until=None,
                                     next_attempt_at=None, last_error=reason[:500],
                                     **({"sealed_secret": None} if expired else {}))
                uow.emit(FAILED, {**self._outcome(claim, masked), "failed_at": now.isoformat(),
                                  "permanent": result.status == FAILED_PERMANENT, "reason": reason[:500]})
            uow.commit()
        if status == SENT:
            log.info("delivery sent", extra=fields)
        elif status == FAILED_TEMPORARY:
            log.warning("delivery failed temporarily; will retry",
                        extra={**fields, "reason": reason[:300], "retry_in_s": round(delay, 2)})
        else:
            log.warning("delivery failed", extra={**fields, "reason": reason[:300]})

    @staticmethod
    def _outcome(claim: Claim, masked: str) -> dict:
        return {"delivery_id": str(claim.id), "event_id": str(claim.event_id), "event_type": claim.event_type,
                "purpose": claim.purpose, "channel": claim.channel, "recipient": masked,
                "user_id": str(claim.user_id) if claim.user_id else None, "attempts": claim.series_attempts}

    # -- housekeeping ---------------------------------------------------------------------------

    def next_due_in(self) -> float | None:
        """Seconds until the next delivery is due (0 if one is), or None if none waits."""
        with self.new_uow() as uow:
            due = repo.next_due_at(uow.session)
        if due is None:
            return None
        return max((repo.aware(due) - _now()).total_seconds(), 0.0)

    def erase_expired_secrets(self) -> int:
        with self.new_uow() as uow:
            erased = repo.erase_expired_secrets(uow.session, now=_now())
            uow.commit()
        return erased


def _now() -> datetime:
    return datetime.now(timezone.utc)
