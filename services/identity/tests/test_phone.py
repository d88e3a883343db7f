import pytest

from identity.domain.phone import InvalidPhone, normalise_phone


@pytest.mark.parametrize("typed", ["12 34 56 78", "12345678", "+45 12345678", "+4512345678", "004512345678",
                                   "0045 12 34 56 78", "12-34-56-78", " +45 12 34 56 78 "])
def test_the_ways_danes_write_a_number_are_one_number(typed):
    assert normalise_phone(typed) == "+4512345678"


@pytest.mark.parametrize("typed, stored", [("+46 70 123 45 67", "+46701234567"), ("0049 30 1234567", "+49301234567")])
def test_foreign_numbers_keep_their_country_code(typed, stored):
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize("typed", ["1234567", "123456789", "+45 1234567", "+45 123456789", "02345678",
                                   "abc", "+0 12345678", "12 34 56 7x", "+45 01234567"])
def test_what_is_not_a_number_is_refused_naming_the_field(typed):
    with pytest.raises(InvalidPhone) as refused:
        normalise_phone(typed, field="mobile")
    assert refused.value.codes == {"mobile": "invalid_phone"}
    assert "mobile" in refused.value.errors


@pytest.mark.parametrize("typed", [None, "", "   "])
def test_nothing_typed_is_no_number(typed):
    assert normalise_phone(typed) is None
