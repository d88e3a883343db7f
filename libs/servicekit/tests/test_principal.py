import uuid

import pytest

from servicekit.errors import NotAuthenticated
from servicekit.principal import (LOCAL_ADMIN, Membership, Principal, generate_keypair, load_private_key,
                                  load_public_key, sign, verify)

HOSPITAL_A, HOSPITAL_B = uuid.uuid4(), uuid.uuid4()
DEPT = uuid.uuid4()
PRIVATE, PUBLIC = generate_keypair()
KEY, PUB = load_private_key(PRIVATE), load_public_key(PUBLIC)
ALICE = Principal(subject=str(uuid.uuid4()), kind="user", username="alice",
                  memberships=(Membership(HOSPITAL_A, LOCAL_ADMIN, frozenset({DEPT})),))


def test_round_trip_keeps_the_principal():
    assert verify(sign(ALICE, audience="identity", key=KEY), audience="identity", key=PUB) == ALICE


def test_local_admin_administers_only_their_own_hospital():
    assert ALICE.administers(HOSPITAL_A) and not ALICE.administers(HOSPITAL_B)
    assert ALICE.departments == {DEPT}


@pytest.mark.parametrize("header, audience, now, reason", [
    (None, "identity", None, "only through the gateway"),
    ("garbage", "identity", None, "could not be verified"),
    (sign(ALICE, audience="patients", key=KEY), "identity", None, "another service"),
    (sign(ALICE, audience="identity", key=KEY, now=1000), "identity", 1031, "expired"),
    (sign(ALICE, audience="identity", key=load_private_key(generate_keypair()[0])), "identity", None,
     "could not be verified"),
])
def test_refused_headers(header, audience, now, reason):
    with pytest.raises(NotAuthenticated, match=reason):
        verify(header, audience=audience, key=PUB, now=now)


def test_tampered_payload_is_refused():
    payload, signature = sign(ALICE, audience="identity", key=KEY).split(".")
    forged = Principal(subject=ALICE.subject, kind="user", username="alice", registry_admin=True)
    forged_payload = sign(forged, audience="identity", key=KEY).split(".")[0]
    with pytest.raises(NotAuthenticated):
        verify(f"{forged_payload}.{signature}", audience="identity", key=PUB)
