"""Secrets that must cross the bus, sealed: a set-password link token, a one-time code.

The producer (identity) seals the secret with a symmetric key it shares with the one consumer
that needs it (notifications); the event carries only the sealed form, so the broker, its
management UI, dead-letter queues, the outbox and anyone reading them see ciphertext. The consumer
opens it in memory to render the message and never stores or logs the opened value.

Fernet (AES-128-CBC + HMAC-SHA256, with a timestamp) from ``cryptography``. ``DANBIO_SEALING_KEY``
holds one or more comma-separated keys (``Fernet.generate_key()`` form): the first seals, every
one opens — so a key is rotated by prepending the new one, then dropping the old once no sealed
value made with it can still be in flight.

In a contract, a sealed value is a ``Sealed`` field: it accepts only something shaped like a
Fernet token, so a producer that forgot to seal fails its contract instead of leaking.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from marshmallow import fields

from .config import setting

SEALING_KEY_ENV = "DANBIO_SEALING_KEY"
_FERNET_VERSION = 0x80
_MIN_TOKEN_BYTES = 1 + 8 + 16 + 16 + 32  # version, timestamp, IV, one AES block, HMAC


class SealingError(ValueError):
    """A sealed value could not be opened: wrong key, tampered with, expired or not sealed."""


class SealedText:
    """A sealed string as it travels; its repr never shows the token (it is not the secret, but
    there is no reason to spread it either)."""

    __slots__ = ("token",)

    def __init__(self, token: str):
        self.token = token

    def __repr__(self) -> str:
        return "SealedText(<sealed>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SealedText) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)


class Sealer:
    """Seals and opens strings with the shared key(s)."""

    def __init__(self, keys: str | bytes | list[str | bytes]):
        if isinstance(keys, (str, bytes)):
            keys = [part for part in (keys.decode() if isinstance(keys, bytes) else keys).split(",")]
        cleaned = [key.strip() for key in keys if key and str(key).strip()]
        if not cleaned:
            raise ValueError("expected at least one key")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in cleaned])
        except (ValueError, binascii.Error) as exc:
            raise ValueError("each key must be 32 url-safe base64-encoded bytes (Fernet.generate_key())") from exc

    def __repr__(self) -> str:
        return "Sealer(<keys hidden>)"

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str | SealedText, *, max_age_seconds: int | None = None) -> str:
        """The plaintext; raises SealingError (saying nothing of the content) if it cannot be opened."""
        token = sealed.token if isinstance(sealed, SealedText) else sealed
        try:
            return self._fernet.decrypt(token.encode("ascii"), ttl=max_age_seconds).decode("utf-8")
        except (InvalidToken, UnicodeError, AttributeError) as exc:
            raise SealingError("the sealed value could not be opened with the configured key(s)") from exc


def generate_key() -> str:
    """A new sealing key, for development and tests; production keys come from the secret store."""
    return Fernet.generate_key().decode("ascii")


def parse_sealer(raw: str) -> Sealer:
    return Sealer(raw)


def sealing_setting() -> Any:
    """The settings field of a service that seals or opens secrets: ``sealer: Sealer = sealing_setting()``."""
    return setting(SEALING_KEY_ENV, parse=parse_sealer,
                   doc="comma-separated Fernet keys shared by identity and notifications: the first "
                       "seals, all open (rotation); seals one-time codes and set-password tokens on the bus")


def looks_sealed(token: str) -> bool:
    """True for a string shaped like a Fernet token (checked without a key)."""
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
    except (binascii.Error, UnicodeError, ValueError):
        return False
    return len(raw) >= _MIN_TOKEN_BYTES and raw[0] == _FERNET_VERSION and (len(raw) - 57) % 16 == 0


class Sealed(fields.Field):
    """A contract field holding a sealed secret: loads to SealedText, dumps to the token string.

    Refuses anything not shaped like a sealed token, so a plaintext code can never pass a contract.
    Its error message never echoes the value.
    """

    default_error_messages = {"invalid": "Not a sealed value (seal secrets with servicekit.sealed)."}

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs) -> str | None:
        if value is None:
            return None
        return value.token if isinstance(value, SealedText) else str(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs) -> SealedText:
        token = value.token if isinstance(value, SealedText) else value
        if not isinstance(token, str) or len(token) > 4096 or not looks_sealed(token):
            raise self.make_error("invalid")
        return SealedText(token)
