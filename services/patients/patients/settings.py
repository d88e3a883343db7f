"""The patients service's settings (see servicekit.config for the shared ones)."""
from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from servicekit.config import ServiceSettings, data_dir, parse_positive_float, setting


class SecretKey:
    """Key bytes that never show themselves in a repr or a log line."""

    def __init__(self, value: bytes):
        self.value = value

    def __repr__(self) -> str:
        return "SecretKey(***)"

    def __eq__(self, other) -> bool:
        return isinstance(other, SecretKey) and secrets.compare_digest(self.value, other.value)

    __hash__ = None  # type: ignore[assignment]


def parse_key(raw: str, *, exact: int | None = None, minimum: int = 32) -> SecretKey:
    """Key bytes from base64 (standard or URL-safe alphabet, padding optional)."""
    text = raw.strip().replace("+", "-").replace("/", "_")
    try:
        value = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("expected base64") from None
    if exact is not None and len(value) != exact:
        raise ValueError(f"expected {exact} bytes in base64")
    if len(value) < minimum:
        raise ValueError(f"expected at least {minimum} bytes in base64")
    return SecretKey(value)


def parse_encryption_key(raw: str) -> SecretKey:
    return parse_key(raw, exact=32)


def new_key() -> str:
    """A fresh key in the form the settings take (``python -m patients new-key``)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def development_key(filename: str):
    """Default for `make run` without settings: a key generated once into DANBIO_DATA_DIR, like
    the embedded database beside it. Production sets the variable (from its secret store)."""

    def default(_service: str, environ: Mapping[str, str]) -> SecretKey:
        # Only beside the embedded database: a server deployment that forgot its key must not
        # start with a fresh one it would lose (and with it every CPR number) on the next restart.
        database_url = (environ.get("PATIENTS_DATABASE_URL") or "").strip()
        if database_url and not database_url.startswith("sqlite"):
            raise ValueError("required when PATIENTS_DATABASE_URL is a server database")
        path = data_dir(environ) / filename
        if not path.exists():
            _create_once(path, new_key())
        return parse_key(path.read_text("ascii"))

    return default


def _create_once(path: Path, content: str) -> None:
    # Web and worker start together: write aside, then link into place; the loser reads the winner's.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


@dataclass(frozen=True)
class PatientsSettings(ServiceSettings):
    cpr_key: SecretKey = setting(
        "PATIENTS_CPR_KEY", default=development_key("patients-cpr.key"), parse=parse_encryption_key,
        doc="AES-256-GCM key for CPR numbers at rest: 32 bytes, base64 (`python -m patients new-key`); "
            "default: generated once into DANBIO_DATA_DIR (development only)",
    )
    cpr_hash_key: SecretKey = setting(
        "PATIENTS_CPR_HASH_KEY", default=development_key("patients-cpr-hash.key"), parse=parse_key,
        doc="HMAC-SHA256 key CPR numbers are looked up by: at least 32 bytes, base64, not the encryption key; "
            "default: generated once into DANBIO_DATA_DIR (development only)",
    )
    transfer_expiry_days: float = setting(
        "PATIENTS_TRANSFER_EXPIRY_DAYS", default=14.0, parse=parse_positive_float,
        doc="days a transfer request waits for a decision before it expires",
    )
    expiry_interval_seconds: float = setting(
        "PATIENTS_EXPIRY_INTERVAL_SECONDS", default=60.0, parse=parse_positive_float,
        doc="how often the worker expires overdue transfer requests",
    )
