"""CPR numbers at rest: encrypted with AES-256-GCM, found by an HMAC-SHA256 keyed hash.

Two keys from the settings, never the same: the encryption key (PATIENTS_CPR_KEY) and the hash key
(PATIENTS_CPR_HASH_KEY). The hash is deterministic, so the unique index on it finds a CPR and
stops duplicates; without the key nobody can hash the 3.6 million possible numbers of a birth
date to find one. A sealed value is ``version byte | 12-byte nonce | ciphertext+tag``, the version
naming the key so keys can be rotated.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from datetime import date

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..domain.cpr import Cpr, parse_cpr

KEY_VERSION = 1
_AAD = b"danbio.patients.cpr"
_FAR_FUTURE = date(9999, 12, 31)


class CprVault:
    def __init__(self, encryption_key: bytes, hash_key: bytes):
        if len(encryption_key) != 32:
            raise ValueError("the CPR encryption key must be 32 bytes")
        if len(hash_key) < 32:
            raise ValueError("the CPR hash key must be at least 32 bytes")
        if encryption_key == hash_key:
            raise ValueError("the CPR encryption and hash keys must differ")
        self._aead = AESGCM(encryption_key)
        self._hash_key = hash_key

    def digest(self, cpr: Cpr) -> bytes:
        """The keyed hash a CPR is looked up by."""
        return hmac.new(self._hash_key, cpr.digits.encode("ascii"), hashlib.sha256).digest()

    def seal(self, cpr: Cpr) -> bytes:
        nonce = os.urandom(12)
        return bytes([KEY_VERSION]) + nonce + self._aead.encrypt(nonce, cpr.digits.encode("ascii"), _AAD)

    def open(self, sealed: bytes) -> Cpr:
        sealed = bytes(sealed)
        if sealed[:1] != bytes([KEY_VERSION]):
            raise ValueError("sealed with an unknown key version")
        digits = self._aead.decrypt(sealed[1:13], sealed[13:], _AAD).decode("ascii")
        # Stored numbers were valid when stored; no "today" can make them invalid now.
        return parse_cpr(digits, today=_FAR_FUTURE)
