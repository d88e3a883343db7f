"""The outcome of one attempt to hand a message over, and when to try again. No I/O."""
from __future__ import annotations

import random
from dataclasses import dataclass

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
