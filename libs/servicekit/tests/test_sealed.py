import pytest
from marshmallow import Schema, ValidationError

from servicekit.sealed import Sealed, SealedText, Sealer, SealingError, generate_key, looks_sealed


def test_seal_and_open_round_trip_with_key_rotation():
    old, new = generate_key(), generate_key()
    sealed_with_old = Sealer(old).seal("482913")
    assert "482913" not in sealed_with_old and looks_sealed(sealed_with_old)
    rotated = Sealer(f"{new},{old}")
    assert rotated.open(sealed_with_old) == "482913"       # old values still open
    assert Sealer(new).open(rotated.seal("æøå-token")) == "æøå-token"  # new values use the first key
    with pytest.raises(SealingError) as error:
        Sealer(new).open(sealed_with_old)
    assert "482913" not in str(error.value)


def test_tampered_or_unsealed_values_do_not_open():
    sealer = Sealer(generate_key())
    token = sealer.seal("secret")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    for bad in (tampered, "secret", ""):
        with pytest.raises(SealingError):
            sealer.open(bad)


def test_keys_must_be_fernet_keys_and_are_never_shown():
    with pytest.raises(ValueError):
        Sealer("too-short")
    assert "hidden" in repr(Sealer(generate_key()))


def test_contract_field_accepts_only_sealed_values():
    class Carrier(Schema):
        code = Sealed(required=True)

    token = Sealer(generate_key()).seal("123456")
    loaded = Carrier().load({"code": token})
    assert loaded["code"] == SealedText(token) and "123456" not in repr(loaded)
    assert Carrier().dump(loaded) == {"code": token}
    with pytest.raises(ValidationError) as refused:
        Carrier().load({"code": "123456"})
    assert "123456" not in str(refused.value.messages)
