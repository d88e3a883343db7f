"""The CPR number rules, as a table: format, real dates, the century from the 7th digit, and the
modulus-11 check that is reported but never enforced."""
from datetime import date

import pytest

from patients.adapters.cpr_vault import CprVault
from patients.domain.cpr import InvalidCpr, century, modulus11_valid, parse_cpr

TODAY = date(2026, 6, 1)


@pytest.mark.parametrize("typed, born, mod11", [
    ("010190-1009", date(1990, 1, 1), True),     # with hyphen
    ("0101901009", date(1990, 1, 1), True),      # ten digits
    (" 010190-1009 ", date(1990, 1, 1), True),   # surrounding blanks are forgiven
    ("150875-2004", date(1975, 8, 15), True),
    ("290200-4001", date(2000, 2, 29), True),    # 2000 is a leap year
    ("290296-3000", date(1996, 2, 29), False),
    ("311299-0000", date(1999, 12, 31), False),
])
def test_valid_numbers(typed, born, mod11):
    cpr = parse_cpr(typed, today=TODAY)
    assert cpr.birth_date == born
    assert cpr.modulus11_valid is mod11
    assert cpr.digits == typed.strip().replace("-", "")
    assert cpr.formatted == typed.strip().replace("-", "")[:6] + "-" + typed.strip().replace("-", "")[6:]


@pytest.mark.parametrize("typed, born", [
    # Modulus-11 exceptions: issued since 2007, first for people born 1 January 1965 and 1966.
    ("010165-1235", date(1965, 1, 1)),
    ("010166-1234", date(1966, 1, 1)),
    ("010165-0007", date(1965, 1, 1)),
])
def test_numbers_failing_modulus_11_are_accepted(typed, born):
    cpr = parse_cpr(typed, today=TODAY)
    assert cpr.birth_date == born
    assert cpr.modulus11_valid is False


@pytest.mark.parametrize("typed, born", [
    # 7th digit 0-3: always 1900s
    ("010100-0000", date(1900, 1, 1)), ("311299-3999", date(1999, 12, 31)),
    # 7th digit 4 and 9: 00-36 -> 2000s, 37-99 -> 1900s
    ("010125-4000", date(2025, 1, 1)), ("010137-4000", date(1937, 1, 1)),
    ("010125-9000", date(2025, 1, 1)), ("010137-9000", date(1937, 1, 1)), ("311299-9999", date(1999, 12, 31)),
    # 7th digit 5-8: 00-57 -> 2000s, 58-99 -> 1800s
    ("010125-5000", date(2025, 1, 1)), ("010158-5000", date(1858, 1, 1)), ("311299-8999", date(1899, 12, 31)),
    ("010100-6000", date(2000, 1, 1)), ("010199-7000", date(1899, 1, 1)),
])
def test_century_from_the_seventh_digit(typed, born):
    assert parse_cpr(typed, today=TODAY).birth_date == born


@pytest.mark.parametrize("seventh, year, expected", [
    (0, 0, 1900), (3, 99, 1900), (4, 36, 2000), (4, 37, 1900), (9, 36, 2000), (9, 37, 1900),
    (5, 57, 2000), (5, 58, 1800), (8, 0, 2000), (8, 99, 1800),
])
def test_century_table(seventh, year, expected):
    assert century(seventh, year) == expected


@pytest.mark.parametrize("typed, reason", [
    ("310299-1234", "does not exist"),      # 31 February
    ("290201-1234", "does not exist"),      # 2001 was no leap year
    ("290200-2000", "does not exist"),      # 7th digit 2: 1900, which was no leap year
    ("000190-1234", "does not exist"),      # day 0
    ("311390-1234", "does not exist"),      # month 13
    ("310490-1234", "does not exist"),      # 31 April
    ("010130-4000", "future"),              # 7th digit 4, year 30: 2030
    ("010136-9000", "future"),              # 7th digit 9, year 36: 2036 (the table's edge)
    ("010157-5000", "future"),              # 7th digit 5, year 57: 2057
    ("01019-01234", "expected"), ("010190 1234", "expected"), ("010190--1234", "expected"),
    ("01019012345", "expected"), ("010190-123", "expected"), ("abcdef-ghij", "expected"),
    ("", "expected"), ("０１０１９０１２３４", "expected"),   # full-width digits are not digits here
])
def test_invalid_numbers(typed, reason):
    with pytest.raises(InvalidCpr, match=reason) as raised:
        parse_cpr(typed, today=TODAY)
    digits = "".join(ch for ch in typed if ch.isdigit())
    if len(digits) >= 6:
        assert digits[:6] not in str(raised.value)   # the message never repeats the number


def test_modulus_11_weights():
    assert modulus11_valid("0101901009")
    assert not modulus11_valid("0101901008")


def test_a_cpr_shows_itself_masked():
    cpr = parse_cpr("010190-1009", today=TODAY)
    assert cpr.masked == "010190-xxxx"
    assert str(cpr) == repr(cpr).removeprefix("Cpr(").removesuffix(")") == "010190-xxxx"
    assert "1009" not in f"{cpr} {cpr!r} {[cpr]}"


def test_vault_encrypts_at_random_and_hashes_with_its_key():
    cpr = parse_cpr("010190-1009", today=TODAY)
    vault = CprVault(b"\x01" * 32, b"\x02" * 32)
    sealed, again = vault.seal(cpr), vault.seal(cpr)
    assert sealed != again and b"0101901009" not in sealed
    assert vault.open(sealed) == cpr and vault.open(again) == cpr
    assert vault.digest(cpr) == vault.digest(parse_cpr("0101901009", today=TODAY))
    assert vault.digest(cpr) != CprVault(b"\x01" * 32, b"\x03" * 32).digest(cpr)
    with pytest.raises(Exception):
        CprVault(b"\x09" * 32, b"\x02" * 32).open(sealed)   # another key cannot open it
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(Exception):
        vault.open(tampered)


def test_vault_refuses_weak_or_shared_keys():
    with pytest.raises(ValueError):
        CprVault(b"\x01" * 16, b"\x02" * 32)
    with pytest.raises(ValueError):
        CprVault(b"\x01" * 32, b"\x02" * 16)
    with pytest.raises(ValueError):
        CprVault(b"\x01" * 32, b"\x01" * 32)
