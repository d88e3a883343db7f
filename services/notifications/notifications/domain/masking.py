"""Recipients as they may appear in logs and events: enough to tell them apart, not to reach them."""
from __future__ import annotations


def mask_email(address: str) -> str:
    """'soeren.aeroe@example.org' -> 's***@example.org'."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(number: str) -> str:
    """'+4512345678' -> '+45******78' (country code and the last two digits)."""
    if len(number) < 6:
        return "***"
    country = number[:3] if number.startswith("+") else ""
    return country + "*" * (len(number) - len(country) - 2) + number[-2:]


def mask_recipient(channel: str, address: str) -> str:
    return mask_email(address) if channel == "email" else mask_phone(address)
