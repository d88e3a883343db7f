"""The web UI's settings (see servicekit.config for the shared ones)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from servicekit.config import ConfigError, ProcessSettings, data_dir, parse_database_url, parse_positive_float, \
    setting
from servicekit.sealed import Sealer

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def parse_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return raw.rstrip("/")


@dataclass(frozen=True)
class SessionKeys:
    """WEB_SESSION_KEY: Fernet keys (the first seals, all open) for the session data at rest,
    and, derived from the first, the key Flask signs CSRF tokens with."""

    sealer: Sealer
    flask_secret: bytes

    def __repr__(self) -> str:
        return "SessionKeys(<hidden>)"


def parse_session_keys(raw: str) -> SessionKeys:
    sealer = Sealer(raw)
    first = raw.split(",")[0].strip()
    return SessionKeys(sealer, hashlib.sha256(b"danbio-web-flask-secret:" + first.encode()).digest())


def embedded_sessions_url(_service: str, environ: Mapping[str, str]) -> str:
    return f"sqlite:///{data_dir(environ) / 'web.db'}"


def parse_non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("expected 0 or more")
    return value


@dataclass(frozen=True)
class WebSettings(ProcessSettings):
    public_url: str = setting(
        "WEB_PUBLIC_URL", default="http://127.0.0.1:8000", parse=parse_url,
        doc="the address users reach the web UI at; https anywhere but on this machine (cookies are "
            "then Secure); the login callback is <WEB_PUBLIC_URL>/auth/callback")
    gateway_url: str = setting("WEB_GATEWAY_URL", default="http://127.0.0.1:8080", parse=parse_url,
                               doc="the gateway, the only API the web UI calls")
    oidc_issuer: str = setting("WEB_OIDC_ISSUER", default="http://127.0.0.1:8180/realms/danbio", parse=parse_url,
                               doc="the Keycloak realm users log in with (its discovery document is read)")
    oidc_client_id: str = setting("WEB_OIDC_CLIENT_ID", default="web", doc="the web UI's client in that realm")
    oidc_client_secret: str = setting("DANBIO_KC_WEB_SECRET",
                                      doc="that client's secret (the realm file's DANBIO_KC_WEB_SECRET)")
    session_keys: SessionKeys = setting(
        "WEB_SESSION_KEY", parse=parse_session_keys,
        doc="comma-separated Fernet keys (servicekit.sealed.generate_key()) that seal the server-side "
            "session data; the first seals, all open (rotation)")
    database_url: str = setting(
        "WEB_DATABASE_URL", default=embedded_sessions_url, parse=parse_database_url,
        doc="where sessions are kept (one table, shared by every web process); default: SQLite under "
            "DANBIO_DATA_DIR")
    login_options_file: str = setting(
        "WEB_LOGIN_OPTIONS_FILE", default="",
        doc="JSON file with the front page's login options per workplace (MitID / Lokal IdP, requirement "
            "D3); default: web/login_options.json")
    http_timeout: float = setting("WEB_HTTP_TIMEOUT", default=10.0, parse=parse_positive_float,
                                  doc="seconds the web UI waits for the gateway or Keycloak")
    # Behind an ingress the browser's address is in X-Forwarded-For; the pages before login pass it
    # on to the gateway, whose per-IP limit on /api/*/public/** must count browsers, not the web UI.
    trusted_proxy_hops: int = setting(
        "WEB_TRUSTED_PROXY_HOPS", default=0, parse=parse_non_negative_int,
        doc="proxies in front of the web UI whose X-Forwarded-* headers are believed (the ingress: 1)")

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/auth/callback"

    def check(self) -> "WebSettings":
        """Plain http is for development on this machine only: cookies must be Secure elsewhere."""
        if not self.secure_cookies and urlsplit(self.public_url).hostname not in LOOPBACK_HOSTS:
            raise ConfigError("invalid settings: WEB_PUBLIC_URL must be https:// unless it is on this "
                              "machine (127.0.0.1 or localhost)")
        return self
