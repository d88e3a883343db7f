import pytest

from gateway.settings import GatewaySettings
from servicekit.config import ConfigError, load
from servicekit.principal import generate_keypair

KEY = generate_keypair()[0]


def test_defaults_and_derived_jwks_url():
    settings = load(GatewaySettings, "gateway", {"GATEWAY_PRINCIPAL_SIGNING_KEY": KEY,
                                                 "GATEWAY_ISSUER": "https://login.example.org/realms/danbio"})
    assert settings.jwks_url == "https://login.example.org/realms/danbio/protocol/openid-connect/certs"
    assert settings.algorithms == {"RS256"} and settings.audience == "gateway"
    assert [rule.path for rule in settings.rate_limits] == ["/api/identity/public/**"]


@pytest.mark.parametrize("name, value, message", [
    ("GATEWAY_TOKEN_ALGORITHMS", "RS256,HS256", "HS256"),
    ("GATEWAY_TOKEN_ALGORITHMS", "none", "none"),
    ("GATEWAY_RATE_LIMITS", "GET /x lots ip", "GATEWAY_RATE_LIMITS is malformed"),
    ("GATEWAY_PRINCIPAL_SIGNING_KEY", "not a key", "Ed25519 private key"),
    ("GATEWAY_PATIENTS_URL", "patients:8102", "http"),
])
def test_bad_settings_stop_start_up_naming_the_variable(name, value, message):
    with pytest.raises(ConfigError, match=message):
        load(GatewaySettings, "gateway", {"GATEWAY_PRINCIPAL_SIGNING_KEY": KEY, name: value})


def test_signing_key_is_required():
    with pytest.raises(ConfigError, match="GATEWAY_PRINCIPAL_SIGNING_KEY is required"):
        load(GatewaySettings, "gateway", {})
