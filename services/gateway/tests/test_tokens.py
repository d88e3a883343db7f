"""The token checks, on tokens forged with keys of the test's own (pure: the key set is a dict).

The same refusals are shown against the real Keycloak through a running gateway in tests/e2e."""
import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from gateway.tokens import InvalidToken, JwksKeys, TokenVerifier
from servicekit.errors import DependencyUnavailable

ISSUER = "http://127.0.0.1:8180/realms/danbio"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private_key, kid, **extra):
    data = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    return {**data, "kid": kid, "use": "sig", "alg": "RS256", **extra}


class KeySet:
    """What the certs endpoint would answer; counts the fetches."""

    def __init__(self, *keys):
        self.keys = list(keys)
        self.fetches = 0
        self.fail = False

    def __call__(self, url):
        self.fetches += 1
        if self.fail:
            raise ConnectionError("refused")
        return {"keys": self.keys}


@pytest.fixture
def signing_key():
    return rsa_key()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def key_set(signing_key):
    # Keycloak also publishes an encryption key: it must be ignored.
    return KeySet(jwk(signing_key, "k1"), jwk(rsa_key(), "enc", use="enc", alg="RSA-OAEP"))


@pytest.fixture
def verifier(key_set, clock):
    keys = JwksKeys("http://keycloak/certs", key_set, algorithms=frozenset({"RS256"}), min_refresh=10,
                    max_age=3600, clock=clock)
    return TokenVerifier(keys, issuer=ISSUER, audience="gateway", algorithms=frozenset({"RS256"}), leeway=10)


def claims(**overrides):
    now = int(time.time())
    base = {"iss": ISSUER, "aud": ["gateway", "account"], "sub": "3f0e3c1e-8f7e-4a53-9a55-0a8d1b0c1d2e",
            "iat": now, "exp": now + 300, "typ": "Bearer", "azp": "web"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(key, kid="k1", alg="RS256", **overrides):
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers={"kid": kid})


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def refusal(verifier, token_text) -> str:
    with pytest.raises(InvalidToken) as raised:
        verifier.verify(token_text)
    assert raised.value.status == 401
    return raised.value.detail


def test_a_valid_token_gives_its_claims(verifier, signing_key):
    assert verifier.verify(token(signing_key))["sub"] == "3f0e3c1e-8f7e-4a53-9a55-0a8d1b0c1d2e"


def test_missing_or_malformed_header(verifier):
    for value in (None, "", "Basic dXNlcjpwdw==", "Bearer ", "Bearer not-a-jwt"):
        with pytest.raises(InvalidToken):
            verifier.verify_header(value)
    with pytest.raises(InvalidToken, match="Authorization: Bearer"):
        verifier.verify_header(None)


def test_expired(verifier, signing_key):
    now = int(time.time())
    assert "expired" in refusal(verifier, token(signing_key, iat=now - 600, exp=now - 60))


def test_expiry_within_leeway_is_accepted(verifier, signing_key):
    now = int(time.time())
    assert verifier.verify(token(signing_key, iat=now - 300, exp=now - 5))


def test_wrong_issuer(verifier, signing_key):
    assert "issued by someone other" in refusal(verifier, token(signing_key, iss="http://127.0.0.1:8180/realms/master"))


def test_wrong_audience(verifier, signing_key):
    assert "not meant for the gateway" in refusal(verifier, token(signing_key, aud="account"))


def test_alg_none_is_refused(verifier):
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims())}."
    assert "alg 'none'" in refusal(verifier, unsigned)


def test_symmetric_algorithm_with_the_public_key_as_secret_is_refused(verifier, key_set):
    # The classic confusion attack: HS256 "signed" with the published public key.
    forged = jwt.encode(claims(), "any-shared-secret-of-sufficient-length-000", algorithm="HS256",
                        headers={"kid": "k1"})
    assert "HS256 are not accepted" in refusal(verifier, forged)


def test_unknown_kid_refreshes_keys_at_most_once_per_interval(verifier, key_set, clock):
    stranger = rsa_key()
    assert "key the identity provider does not publish" in refusal(verifier, token(stranger, kid="k-stranger"))
    fetches = key_set.fetches
    for _ in range(20):
        refusal(verifier, token(stranger, kid=f"made-up-{_}"))
    assert key_set.fetches == fetches  # a flood of made-up kids does not reach Keycloak
    clock.now += 11
    refusal(verifier, token(stranger, kid="k-stranger"))
    assert key_set.fetches == fetches + 1


def test_rotated_key_is_found_by_refreshing(verifier, key_set, clock, signing_key):
    verifier.verify(token(signing_key))
    rotated = rsa_key()
    key_set.keys.append(jwk(rotated, "k2"))
    clock.now += 11
    assert verifier.verify(token(rotated, kid="k2"))["iss"] == ISSUER


def test_tampered_signature(verifier, signing_key):
    header, payload, signature = token(signing_key).split(".")
    tampered = f"{header}.{b64(claims(sub='someone-else'))}.{signature}"
    assert "signature is not valid" in refusal(verifier, tampered)


def test_token_signed_by_another_key_under_a_known_kid(verifier):
    assert "signature is not valid" in refusal(verifier, token(rsa_key(), kid="k1"))


def test_id_token_is_not_an_access_token(verifier, signing_key):
    assert "not an access token" in refusal(verifier, token(signing_key, typ="ID"))


def test_missing_subject(verifier, signing_key):
    assert "'sub'" in refusal(verifier, token(signing_key, sub=None))


def test_keys_unavailable_is_503_not_401(signing_key, clock):
    down = KeySet()
    down.fail = True
    keys = JwksKeys("http://keycloak/certs", down, algorithms=frozenset({"RS256"}), min_refresh=10, max_age=3600,
                    clock=clock)
    verifier = TokenVerifier(keys, issuer=ISSUER, audience="gateway", algorithms=frozenset({"RS256"}))
    with pytest.raises(DependencyUnavailable):
        verifier.verify(token(signing_key))


def test_known_keys_survive_a_failed_refresh(verifier, key_set, clock, signing_key):
    verifier.verify(token(signing_key))
    key_set.fail = True
    clock.now += 4000  # past max_age: a refresh is due and fails
    assert verifier.verify(token(signing_key))


def test_a_passed_token_is_checked_once_until_it_expires(key_set, clock, signing_key, monkeypatch):
    keys = JwksKeys("http://keycloak/certs", key_set, algorithms=frozenset({"RS256"}), min_refresh=10,
                    max_age=3600, clock=clock)
    now = [time.time()]
    verifier = TokenVerifier(keys, issuer=ISSUER, audience="gateway", algorithms=frozenset({"RS256"}), leeway=10,
                             clock=lambda: now[0])
    checks = []
    original = verifier._check
    monkeypatch.setattr(verifier, "_check", lambda token: checks.append(token) or original(token))
    valid = token(signing_key, exp=int(now[0]) + 60)
    for _ in range(5):
        verifier.verify(valid)
    assert len(checks) == 1
    now[0] += 71  # past exp + leeway: checked afresh (PyJWT, on the real clock, still lets it pass)
    verifier.verify(valid)
    assert len(checks) == 2


def test_a_withdrawn_key_ends_its_remembered_tokens(verifier, key_set, clock, signing_key):
    valid = token(signing_key)
    verifier.verify(valid)
    key_set.keys = [jwk(rsa_key(), "k2")]  # Keycloak rotated k1 out
    clock.now += 11
    refusal(verifier, token(rsa_key(), kid="k-unknown"))  # an unknown kid refreshes the keys
    assert "does not publish" in refusal(verifier, valid)
