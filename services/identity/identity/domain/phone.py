"""Phone numbers as people type them, stored as E.164.

A Danish number is 8 digits; people write it with spaces ("12 34 56 78"), with +45 or 0045 in
front, or without. Other countries' numbers are accepted with their country code (+ or 00).
"""
from __future__ import annotations

import re

from servicekit.errors import InvalidInput

_SEPARATORS = re.compile(r"[\s\-./()]")
_DANISH = re.compile(r"^[1-9][0-9]{7}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class InvalidPhone(InvalidInput):
    def __init__(self, field: str = "phone"):
        super().__init__("The phone number is not valid.",
                         errors={field: ["a Danish 8-digit number, or a number with its country code"]},
                         codes={field: "invalid_phone"})


def normalise_phone(raw: str | None, *, field: str = "phone") -> str | None:
    """E.164 for what was typed; None when nothing was; InvalidPhone when it is not a number."""
    typed = _SEPARATORS.sub("", raw or "")
    if not typed:
        return None
    if typed.startswith("00"):
        typed = "+" + typed[2:]
    if _DANISH.match(typed):
        return "+45" + typed
    if typed.startswith("+45") and not _DANISH.match(typed[3:]):
        raise InvalidPhone(field)
    if not _E164.match(typed):
        raise InvalidPhone(field)
    return typed


def masked_phone(e164: str | None) -> str | None:
    """For audit entries: the country code and the last two digits ("+45••••••78")."""
    if not e164:
        return None
    return e164[:3] + "•" * (len(e164) - 5) + e164[-2:]
