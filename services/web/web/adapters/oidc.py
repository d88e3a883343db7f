"""Keycloak as an OpenID Connect provider for the web UI: authorization code flow with PKCE (S256),
state and nonce; the ID token verified; refresh; the end-session (logout) address.

The provider's endpoints come from its discovery document, read on first use and kept.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import requests

ID_TOKEN_ALGORITHMS = ["RS256"]


class ProviderUnavailable(RuntimeError):
    """Keycloak did not answer, or answered something unusable."""


class LoginFailed(RuntimeError):
    """The provider refused the code or the ID token does not check out."""


class SessionEnded(RuntimeError):
    """The refresh token is no longer accepted: the user must log in again."""


@dataclass(frozen=True)
class LoginRequest:
    """What is remembered between sending the browser to Keycloak and its return."""

    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> "LoginRequest":
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48))

    @property
    def code_challenge(self) -> str:
        digest = hashlib.sha256(self.code_verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Tokens:
    access_token: str
    access_expires_at: float
    refresh_token: str
    refresh_expires_in: int
    id_token: str

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    @classmethod
    def from_response(cls, body: dict[str, Any], *, previous_id_token: str = "") -> "Tokens":
        return cls(access_token=body["access_token"], access_expires_at=time.time() + int(body["expires_in"]),
                   refresh_token=body["refresh_token"], refresh_expires_in=int(body.get("refresh_expires_in") or 1800),
                   id_token=body.get("id_token") or previous_id_token)


class OidcClient:
    def __init__(self, issuer: str, client_id: str, client_secret: str, redirect_uri: str, *, timeout: float):
        self.issuer, self.client_id, self.client_secret = issuer, client_id, client_secret
        self.redirect_uri, self.timeout = redirect_uri, timeout
        self.http = requests.Session()
        self._metadata: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    # -- discovery ------------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                try:
                    response = self.http.get(f"{self.issuer}/.well-known/openid-configuration", timeout=self.timeout)
                    response.raise_for_status()
                    metadata = response.json()
                except (requests.RequestException, ValueError) as exc:
                    raise ProviderUnavailable(f"discovery failed: {exc.__class__.__name__}") from None
                if metadata.get("issuer") != self.issuer:
                    raise ProviderUnavailable("the discovery document names another issuer")
                self._metadata = metadata
                self._jwks = jwt.PyJWKClient(metadata["jwks_uri"], cache_keys=True, lifespan=3600,
                                             timeout=int(self.timeout))
            return self._metadata

    # -- the flow -------------------------------------------------------------------------------

    def authorization_url(self, login: LoginRequest, *, extra: dict[str, str] | None = None) -> str:
        query = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                 "scope": "openid profile email", "state": login.state, "nonce": login.nonce,
                 "code_challenge": login.code_challenge, "code_challenge_method": "S256", "ui_locales": "da",
                 **(extra or {})}
        return f"{self.metadata()['authorization_endpoint']}?{urlencode(query)}"

    def exchange_code(self, code: str, login: LoginRequest) -> tuple[Tokens, dict[str, Any]]:
        """Tokens for an authorization code, and the verified ID token's claims."""
        body = self._token_request({"grant_type": "authorization_code", "code": code,
                                    "redirect_uri": self.redirect_uri, "code_verifier": login.code_verifier},
                                   refused=LoginFailed)
        if "id_token" not in body:
            raise LoginFailed("no ID token in the token response")
        claims = self.verify_id_token(body["id_token"], nonce=login.nonce)
        return Tokens.from_response(body), claims

    def refresh(self, tokens: dict[str, Any]) -> Tokens:
        body = self._token_request({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                                   refused=SessionEnded)
        if "id_token" in body:
            self.verify_id_token(body["id_token"], nonce=None)
        return Tokens.from_response(body, previous_id_token=tokens["id_token"])

    def verify_id_token(self, id_token: str, *, nonce: str | None) -> dict[str, Any]:
        self.metadata()
        try:
            key = self._jwks.get_signing_key_from_jwt(id_token)
            claims = jwt.decode(id_token, key.key, algorithms=ID_TOKEN_ALGORITHMS, audience=self.client_id,
                                issuer=self.issuer, leeway=10, options={"require": ["exp", "iat", "sub", "aud", "iss"]})
        except jwt.PyJWKClientConnectionError:
            raise ProviderUnavailable("the provider's keys could not be fetched") from None
        except jwt.PyJWTError as exc:
            raise LoginFailed(f"ID token refused: {exc.__class__.__name__}") from None
        if claims.get("azp", self.client_id) != self.client_id:
            raise LoginFailed("ID token issued to another client")
        if nonce is not None and not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise LoginFailed("ID token nonce does not match the login request")
        return claims

    def end_session_url(self, id_token: str, post_logout_redirect_uri: str) -> str:
        query = {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{self.metadata()['end_session_endpoint']}?{urlencode(query)}"

    def _token_request(self, data: dict[str, str], *, refused: type[Exception]) -> dict[str, Any]:
        try:
            response = self.http.post(self.metadata()["token_endpoint"], data=data,
                                      auth=(self.client_id, self.client_secret), timeout=self.timeout)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"token endpoint unreachable: {exc.__class__.__name__}") from None
        if response.status_code in (400, 401):
            error = response.json().get("error", "") if response.headers.get("content-type", "").startswith(
                "application/json") else ""
            raise refused(f"the provider refused: {error or response.status_code}")
        if response.status_code != 200:
            raise ProviderUnavailable(f"token endpoint answered {response.status_code}")
        return response.json()
