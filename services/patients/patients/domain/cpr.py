"""The Danish civil registration number (CPR): parsing and validation, no I/O.

``DDMMYY-SSSS`` or ten digits. The date must exist; its century follows from the 7th digit and the
two-digit year (the CPR office's table below). The modulus-11 check is reported, never enforced:
numbers that fail it have been issued since 2007 (first for people born 1 January 1965 and 1966),
and a real CPR must never be refused.

A ``Cpr`` shows itself masked (``DDMMYY-xxxx``) in ``str``/``repr``, so an accidental log line,
f-string or traceback shows no full number. Error messages never contain the digits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_FORMAT = re.compile(r"^([0-9]{6})-?([0-9]{4})$")  # ASCII digits only
_SHAPED = re.compile(r"(?<![0-9])[0-9]{6}-?[0-9]{4}(?![0-9])")


def looks_like_cpr(text: str) -> bool:
    """Holds something CPR-shaped (ten digits, maybe with the dash): text that must be treated as
    a CPR number, e.g. one typed into a name field, so that it is never kept in the clear."""
    return bool(_SHAPED.search(text or ""))
_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


class InvalidCpr(ValueError):
    """Not a CPR number. The message says why without repeating the number; ``code`` says it for
    the web UI to word in Danish (cpr_format, cpr_no_such_date, cpr_future)."""

    def __init__(self, message: str, code: str = "cpr_format"):
        super().__init__(message)
        self.code = code


def century(seventh_digit: int, two_digit_year: int) -> int:
    """The century (1800, 1900 or 2000) of a birth year, per the CPR office's table."""
    if seventh_digit <= 3:
        return 1900
    if seventh_digit in (4, 9):
        return 2000 if two_digit_year <= 36 else 1900
    return 2000 if two_digit_year <= 57 else 1800


def modulus11_valid(digits: str) -> bool:
    return sum(int(d) * w for d, w in zip(digits, _WEIGHTS)) % 11 == 0


@dataclass(frozen=True)
class Cpr:
    digits: str = field(repr=False)   # the ten digits, no hyphen
    birth_date: date = field(repr=False)

    @property
    def formatted(self) -> str:
        return f"{self.digits[:6]}-{self.digits[6:]}"

    @property
    def masked(self) -> str:
        return f"{self.digits[:6]}-xxxx"

    @property
    def modulus11_valid(self) -> bool:
        return modulus11_valid(self.digits)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"Cpr({self.masked})"


def parse_cpr(text: str, *, today: date | None = None) -> Cpr:
    """A valid CPR from what a user typed, or InvalidCpr saying what is wrong."""
    if not isinstance(text, str):
        raise InvalidCpr("a CPR number is text: DDMMYY-SSSS or 10 digits")
    match = _FORMAT.match(text.strip())
    if not match:
        raise InvalidCpr("expected DDMMYY-SSSS or 10 digits")
    digits = match.group(1) + match.group(2)
    day, month, year2 = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    year = century(int(digits[6]), year2) + year2
    try:
        born = date(year, month, day)
    except ValueError:
        raise InvalidCpr("the date of birth in the CPR number does not exist", "cpr_no_such_date") from None
    if born > (today or date.today()):
        raise InvalidCpr("the date of birth in the CPR number lies in the future", "cpr_future")
    return Cpr(digits=digits, birth_date=born)
