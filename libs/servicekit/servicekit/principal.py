"""Who is calling: the principal the gateway resolves and passes to services, signed.

The gateway verifies the access token, resolves the principal from identity, and forwards it in
the ``X-Danbio-Principal`` header as ``<payload>.<signature>`` (base64url), signed with the
gateway's Ed25519 key. A service accepts a request only with a valid signature, its own name as
audience and an unexpired timestamp: a caller that bypassed the gateway cannot forge one, and a
captured header is useless to another service or after a few seconds.
"""
from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import Forbidden, NotAuthenticated

HEADER = "X-Danbio-Principal"
LIFETIME_SECONDS = 30

# Roles, as identity assigns them.
REGISTRY_ADMIN = "registry_admin"   # the registry's secretariat: everything, all hospitals
LOCAL_ADMIN = "local_admin"         # user administration of their own hospital(s)
CLINICIAN = "clinician"             # works with patients of their departments
SECRETARY = "secretary"             # works with patients of their departments
PLATFORM = "patient_platform"       # the patient platform integration (a machine client)


@dataclass(frozen=True)
class Membership:
    hospital_id: uuid.UUID
    role: str
    departments: frozenset[uuid.UUID] = frozenset()


@dataclass(frozen=True)
class Principal:
    subject: str                      # identity's user id, or the machine client's id
    kind: str                         # "user" or "client"
    username: str
    registry_admin: bool = False
    memberships: tuple[Membership, ...] = ()
    client_roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def user_id(self) -> uuid.UUID:
        return uuid.UUID(self.subject)

    @property
    def departments(self) -> frozenset[uuid.UUID]:
        return frozenset().union(*(m.departments for m in self.memberships)) if self.memberships else frozenset()

    @property
    def hospitals(self) -> frozenset[uuid.UUID]:
        return frozenset(m.hospital_id for m in self.memberships)

    def administers(self, hospital_id: uuid.UUID) -> bool:
        """May manage the users of this hospital."""
        return self.registry_admin or any(m.hospital_id == hospital_id and m.role == LOCAL_ADMIN
                                          for m in self.memberships)

    @property
    def administered_hospitals(self) -> frozenset[uuid.UUID]:
        return frozenset(m.hospital_id for m in self.memberships if m.role == LOCAL_ADMIN)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sub": self.subject, "kind": self.kind, "username": self.username,
            "registry_admin": self.registry_admin, "client_roles": sorted(self.client_roles),
            "memberships": [{"hospital_id": str(m.hospital_id), "role": m.role,
                             "departments": sorted(str(d) for d in m.departments)} for m in self.memberships],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Principal":
        return cls(
            subject=data["sub"], kind=data["kind"], username=data["username"],
            registry_admin=bool(data.get("registry_admin")), client_roles=frozenset(data.get("client_roles", ())),
            memberships=tuple(Membership(hospital_id=uuid.UUID(m["hospital_id"]), role=m["role"],
                                         departments=frozenset(uuid.UUID(d) for d in m["departments"]))
                              for m in data.get("memberships", ())),
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_private_key(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("expected an Ed25519 private key")
    return key


def load_public_key(pem: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("expected an Ed25519 public key")
    return key


def generate_keypair() -> tuple[str, str]:
    """(private PEM, public PEM) — for development and tests; production keys come from secrets."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def sign(principal: Principal, *, audience: str, key: Ed25519PrivateKey, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    payload = json.dumps({**principal.to_dict(), "aud": audience, "iat": issued,
                          "exp": issued + LIFETIME_SECONDS}, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(key.sign(payload))}"


def verify(header: str | None, *, audience: str, key: Ed25519PublicKey, now: float | None = None) -> Principal:
    """The principal in a header value, or NotAuthenticated saying why not."""
    if not header:
        raise NotAuthenticated("This service is reached only through the gateway.")
    try:
        payload_part, signature_part = header.split(".", 1)
        payload = _unb64(payload_part)
        key.verify(_unb64(signature_part), payload)
        data = json.loads(payload)
    except (ValueError, InvalidSignature):
        raise NotAuthenticated("The caller's identity could not be verified.") from None
    moment = now if now is not None else time.time()
    if data.get("aud") != audience:
        raise NotAuthenticated("The caller's identity was meant for another service.")
    if not isinstance(data.get("exp"), int) or moment > data["exp"]:
        raise NotAuthenticated("The caller's identity has expired.")
    return Principal.from_dict(data)


def require_registry_admin(principal: Principal) -> None:
    if not principal.registry_admin:
        raise Forbidden("Only the registry's administrators may do this.")
