"""The outcome of one attempt to hand a message over, and when to try again. No I/O."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

from .masking import mask_email, mask_phone

# Statuses of a delivery and of each attempt.
QUEUED = "queued"                      # not tried yet / attempt under way (or its worker died)
SENT = "sent"
FAILED_TEMPORARY = "failed_temporary"  # will be tried again
FAILED_PERMANENT = "failed_permanent"  # given up: refused for good, or the retries ran out
STATUSES = (QUEUED, SENT, FAILED_TEMPORARY, FAILED_PERMANENT)


@dataclass(frozen=True)
class SendResult:
    status: str                        # SENT, FAILED_TEMPORARY or FAILED_PERMANENT
    response: str                      # what the server or provider answered, short
    retry_after: float | None = None   # seconds the provider asked us to wait (HTTP 429)

    @classmethod
    def sent(cls, response: str) -> "SendResult":
        return cls(SENT, response)

    @classmethod
    def temporary(cls, response: str, retry_after: float | None = None) -> "SendResult":
        return cls(FAILED_TEMPORARY, response, retry_after)

    @classmethod
    def permanent(cls, response: str) -> "SendResult":
        return cls(FAILED_PERMANENT, response)


def backoff_seconds(failures: int, *, base: float, maximum: float, retry_after: float | None = None,
                    jitter: float = 0.1) -> float:
    """Wait before the next attempt after ``failures`` temporary failures in a row: base · 2^(n-1),
    ±10 % so a backlog does not retry in lockstep, at most ``maximum`` — and never less than the
    provider's Retry-After (itself capped at ``maximum``)."""
    delay = min(base * (2 ** max(failures - 1, 0)), maximum)
    delay *= 1 + random.uniform(-jitter, jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, maximum))
    return min(delay, maximum)


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced: providers may echo a message back in their answer."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


# What a server or provider answers may quote the recipient ("550 5.1.1 <karen@example.org>:
# Recipient address rejected", an SMS gateway echoing the msisdn). One pass, leftmost match first:
#  - an e-mail address (the domain may be missing where the answer was cut short);
#  - a UUID, kept as it is (our own references, echoed back: not a phone number);
#  - a phone number: E.164 or any run of 8 or more digits standing alone (not inside a word or
#    a hex identifier).
_PERSONAL_DATA = re.compile(
    r"(?P<email>[\w.!#$%&*+^~-]+@(?:[\w-]+(?:\.[\w-]+)*)?)"
    r"|(?P<uuid>(?<![0-9A-Za-z])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Za-z]))"
    r"|(?P<phone>(?<![\w+])\+?\d{8,}(?!\w))")


def _mask_match(match: re.Match) -> str:
    if match.group("email"):
        return mask_email(match.group("email"))
    if match.group("phone"):
        return mask_phone(match.group("phone"))
    return match.group()


def mask_personal_data(text: str) -> str:
    """``text`` with every e-mail address and phone number in it masked as the recipient is
    ('550 5.1.1 <karen.kliniker@example.org>: ...' -> '550 5.1.1 <k***@example.org>: ...'),
    everything else — status codes, reasons, ids — left as it was."""
    return _PERSONAL_DATA.sub(_mask_match, text)
