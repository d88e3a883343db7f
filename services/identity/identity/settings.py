"""The identity service's settings (see servicekit.config for the shared ones)."""
from dataclasses import dataclass

from servicekit.config import ServiceSettings, parse_positive_float, setting
from servicekit.sealed import SEALING_KEY_ENV, Sealer, parse_sealer
from servicekit.principal import PLATFORM


def parse_machine_clients(raw: str) -> dict[str, frozenset[str]]:
    """'patient-platform=patient_platform; other=role_a,role_b' -> {client id: roles}."""
    clients: dict[str, frozenset[str]] = {}
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        client_id, sep, roles = part.partition("=")
        role_set = frozenset(filter(None, (r.strip() for r in roles.split(","))))
        if not sep or not client_id.strip() or not role_set:
            raise ValueError(f"expected 'client-id=role[,role]', got {part!r}")
        clients[client_id.strip()] = role_set
    return clients


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
    machine_clients: dict = setting(
        "IDENTITY_MACHINE_CLIENTS", default={"patient-platform": frozenset({PLATFORM})}, parse=parse_machine_clients,
        doc="Keycloak clients that call the gateway with client credentials, and their roles: "
            "'client-id=role[,role]; ...'",
    )
    # Optional at start-up, like the Keycloak secret: only the use cases that send a code or a link
    # need it, and they answer 503 without it (servicekit.sealed: shared with notifications).
    sealer: Sealer | None = setting(
        SEALING_KEY_ENV, default=None, parse=parse_sealer,
        doc="comma-separated Fernet keys shared with notifications: seals one-time codes and "
            "set-password tokens on the bus (the first seals)",
    )
    # issue 10: how often the worker settles Keycloak users whose creation was never recorded.
    keycloak_sweep_seconds: float = setting(
        "IDENTITY_KEYCLOAK_SWEEP_SECONDS", default=60.0, parse=parse_positive_float,
        doc="seconds between the worker's sweeps for Keycloak users left by an unfinished creation "
            "(Keycloak stopped mid-call, a crash); they are deleted",
    )
    # issue 10: how often the worker copies Keycloak's MitID links (service/mitid_links.py).
    mitid_sweep_seconds: float = setting(
        "IDENTITY_MITID_SWEEP_SECONDS", default=300.0, parse=parse_positive_float,
        doc="seconds between the worker's copies of Keycloak's MitID links into identity (a link "
            "made or removed outside identity's own pages shows in user lists after at most this)",
    )
    # issue 5: how often the worker looks for hospitals whose quarterly review became overdue.
    review_check_seconds: float = setting(
        "IDENTITY_REVIEW_CHECK_SECONDS", default=3600.0, parse=parse_positive_float,
        doc="seconds between the worker's checks for overdue access reviews (identity.review.overdue)",
    )
