"""The identity service's settings (see servicekit.config for the shared ones)."""
from dataclasses import dataclass

from servicekit.config import ServiceSettings, parse_positive_float, setting


def parse_http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return raw.rstrip("/")


@dataclass(frozen=True)
class IdentitySettings(ServiceSettings):
    keycloak_url: str = setting(
        "DANBIO_KEYCLOAK_URL", default="http://127.0.0.1:8180", parse=parse_http_url,
        doc="Keycloak's base URL (without /realms/...)",
    )
    keycloak_realm: str = setting("DANBIO_KEYCLOAK_REALM", default="danbio", doc="the realm of danbio's users")
    keycloak_client_id: str = setting(
        "IDENTITY_KEYCLOAK_CLIENT_ID", default="identity-admin",
        doc="identity's service-account client for Keycloak's admin API",
    )
    # Not required at start-up: reading profiles and principals does not touch Keycloak. A use case
    # that needs Keycloak without it answers 503 and says why.
    keycloak_client_secret: str = setting(
        "IDENTITY_KEYCLOAK_CLIENT_SECRET", default="",
        doc="that client's secret (DANBIO_KC_IDENTITY_SECRET in the realm file)",
    )
    keycloak_timeout: float = setting(
        "IDENTITY_KEYCLOAK_TIMEOUT", default=10.0, parse=parse_positive_float,
        doc="seconds identity waits for one Keycloak admin API call",
    )
