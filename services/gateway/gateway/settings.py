"""The gateway's settings (see servicekit.config for the shared ones)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from servicekit.config import ProcessSettings, parse_positive_float, parse_positive_int, setting

from .ratelimit import RateRule, parse_rules

# Asymmetric algorithms only: with a shared-secret algorithm the public JWKS key would become the
# secret, and "none" is no signature at all.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                   "ES256", "ES384", "ES512", "EdDSA"})

DEFAULT_ISSUER = "http://127.0.0.1:8180/realms/danbio"

# The password reset by SMS code is reached from the login page, before anyone has a token: a
# per-IP limit keeps code requests and guesses from one address in check (issue 7 builds it).
DEFAULT_RATE_LIMITS = "POST /api/identity/public/** 30/300 ip"


def parse_algorithms(raw: str) -> frozenset[str]:
    names = frozenset(part.strip() for part in raw.split(",") if part.strip())
    if not names:
        raise ValueError("expected comma-separated JWS algorithms, e.g. RS256")
    refused = names - ASYMMETRIC_ALGORITHMS
    if refused:
        raise ValueError(f"not allowed: {', '.join(sorted(refused))} (only asymmetric algorithms such as RS256)")
    return names


def parse_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return raw.rstrip("/")


def parse_private_key(raw: str) -> Any:
    from servicekit.principal import load_private_key

    try:
        return load_private_key(raw.replace("\\n", "\n"))
    except Exception as exc:
        raise ValueError("expected an Ed25519 private key in PEM form") from exc


def parse_non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("expected a whole number, 0 or more")
    return value


def parse_rate_limits(raw: str) -> tuple[RateRule, ...]:
    return parse_rules(raw)


def jwks_url_of_issuer(_service: str, environ: Mapping[str, str]) -> str:
    issuer = (environ.get("GATEWAY_ISSUER") or DEFAULT_ISSUER).rstrip("/")
    return f"{issuer}/protocol/openid-connect/certs"


@dataclass(frozen=True)
class GatewaySettings(ProcessSettings):
    principal_signing_key: Any = setting(
        "GATEWAY_PRINCIPAL_SIGNING_KEY", parse=parse_private_key,
        doc="Ed25519 private key (PEM) that signs the principal passed to services; its public "
            "half is DANBIO_PRINCIPAL_PUBLIC_KEY",
    )
    issuer: str = setting("GATEWAY_ISSUER", default=DEFAULT_ISSUER, parse=parse_url,
                          doc="the only token issuer accepted (the Keycloak realm's URL)")
    jwks_url: str = setting("GATEWAY_JWKS_URL", default=jwks_url_of_issuer, parse=parse_url,
                            doc="where the issuer's signing keys are fetched; default: the realm's certs endpoint")
    audience: str = setting("GATEWAY_AUDIENCE", default="gateway",
                            doc="the audience an access token must carry")
    algorithms: frozenset[str] = setting(
        "GATEWAY_TOKEN_ALGORITHMS", default=frozenset({"RS256"}), parse=parse_algorithms,
        doc="accepted token signature algorithms, comma-separated (asymmetric only)")
    token_leeway_seconds: int = setting(
        "GATEWAY_TOKEN_LEEWAY_SECONDS", default=10, parse=parse_non_negative_int,
        doc="clock skew tolerated on exp/iat/nbf")
    jwks_min_refresh_seconds: float = setting(
        "GATEWAY_JWKS_MIN_REFRESH_SECONDS", default=10.0, parse=parse_positive_float,
        doc="least time between two key fetches triggered by an unknown key id")
    jwks_max_age_seconds: float = setting(
        "GATEWAY_JWKS_MAX_AGE_SECONDS", default=3600.0, parse=parse_positive_float,
        doc="keys are fetched again after this long, so a withdrawn key stops being accepted")
    identity_url: str = setting("GATEWAY_IDENTITY_URL", default="http://127.0.0.1:8101", parse=parse_url,
                                doc="the identity service")
    patients_url: str = setting("GATEWAY_PATIENTS_URL", default="http://127.0.0.1:8102", parse=parse_url,
                                doc="the patients service")
    notifications_url: str = setting("GATEWAY_NOTIFICATIONS_URL", default="http://127.0.0.1:8103",
                                     parse=parse_url, doc="the notifications service")
    connect_timeout: float = setting("GATEWAY_CONNECT_TIMEOUT", default=2.0, parse=parse_positive_float,
                                     doc="seconds to connect to a service")
    read_timeout: float = setting("GATEWAY_READ_TIMEOUT", default=30.0, parse=parse_positive_float,
                                  doc="seconds a service may take to answer (between bytes)")
    pool_size: int = setting("GATEWAY_POOL_SIZE", default=32, parse=parse_positive_int,
                             doc="kept-alive connections per service")
    principal_cache_seconds: float = setting(
        "GATEWAY_PRINCIPAL_CACHE_SECONDS", default=300.0, parse=parse_positive_float,
        doc="longest a cached principal is used; access changes drop it at once through the bus")
    principal_cache_size: int = setting(
        "GATEWAY_PRINCIPAL_CACHE_SIZE", default=10000, parse=parse_positive_int,
        doc="most principals held in the cache")
    rate_limits: tuple[RateRule, ...] = setting(
        "GATEWAY_RATE_LIMITS", default=parse_rules(DEFAULT_RATE_LIMITS), parse=parse_rate_limits,
        doc="sensitive routes' limits, ';'-separated 'METHOD PATH COUNT/SECONDS ip|user' "
            "(PATH may end in /** or hold * for one segment; METHOD may be *)")
    trusted_proxy_hops: int = setting(
        "GATEWAY_TRUSTED_PROXY_HOPS", default=0, parse=parse_non_negative_int,
        doc="proxies in front of the gateway whose X-Forwarded-* headers are believed (0: none)")
    openapi_cache_seconds: float = setting(
        "GATEWAY_OPENAPI_CACHE_SECONDS", default=60.0, parse=parse_positive_float,
        doc="how long the aggregated OpenAPI document is kept before the services are asked again")

    def upstreams(self) -> dict[str, str]:
        return {"identity": self.identity_url, "patients": self.patients_url,
                "notifications": self.notifications_url}
