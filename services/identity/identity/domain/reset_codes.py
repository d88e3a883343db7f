"""One-time codes for a password reset: the rules, without I/O.

A code is 6 digits from the operating system's CSPRNG (``secrets``). Only a SHA-256 of the code
salted with its reset request's id is stored, so a code is bound to its request: the same digits
typed against another request hash to something else.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
# A request lives long enough to ask for a code, wait for the SMS and type it, a few times over.
REQUEST_TTL = timedelta(minutes=30)
MAX_WRONG_CODES = 5          # per request; then the request is dead
MAX_CODES_PER_HOUR = 3       # per username (known or not)
CODE_WINDOW = timedelta(hours=1)


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(request_id: uuid.UUID, code: str) -> str:
    return hashlib.sha256(f"{request_id}:{code}".encode()).hexdigest()


def code_matches(request_id: uuid.UUID, typed: str, stored_hash: str) -> bool:
    """Constant-time comparison of a typed code with the stored hash."""
    return hmac.compare_digest(code_hash(request_id, normalise_code(typed)), stored_hash)


def normalise_code(typed: str | None) -> str:
    """What people type: spaces or a dash between digit groups are fine."""
    return "".join(ch for ch in (typed or "") if not ch.isspace() and ch != "-")


def username_key(typed: str | None) -> str:
    return (typed or "").strip().lower()[:254]
