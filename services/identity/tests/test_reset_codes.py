"""The rules of reset codes and the realm's password policy, without I/O."""
import uuid

from identity.domain.password_policy import parse_policy
from identity.domain.reset_codes import code_hash, code_matches, new_code, username_key


def test_codes_are_six_digits_and_vary():
    codes = {new_code() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert len(codes) > 190  # a CSPRNG, not a counter


def test_a_code_is_bound_to_its_request_and_typed_loosely():
    request, other = uuid.uuid4(), uuid.uuid4()
    stored = code_hash(request, "012345")
    assert "012345" not in stored
    assert code_matches(request, "012 345", stored) and code_matches(request, "012-345", stored)
    assert not code_matches(other, "012345", stored) and not code_matches(request, "012346", stored)
    assert not code_matches(request, "", stored)


def test_usernames_compare_without_case_or_spaces():
    assert username_key("  Lene.Juhl ") == "lene.juhl" and username_key(None) == ""


def test_the_realms_policy_in_parts():
    assert parse_policy("length(12) and notUsername and passwordHistory(3)") == [
        {"rule": "length", "value": "12"}, {"rule": "notUsername", "value": None},
        {"rule": "passwordHistory", "value": "3"}]
    assert parse_policy("") == [] and parse_policy("upperCase( 1 ) and ???") == [{"rule": "upperCase", "value": "1"}]
