"""Access-token verification: the issuer's signing keys (JWKS, cached) and the checks on a token.

Cheap checks on the unverified token come first (form, algorithm, issuer) so that a stranger's
token never makes us fetch keys; an unknown key id refreshes the keys at most once per
``min_refresh`` seconds, so a stream of made-up key ids cannot turn the gateway against Keycloak.
Every refusal is a NotAuthenticated whose message says what was wrong with the token.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

import jwt
from jwt import PyJWK

from servicekit.errors import DependencyUnavailable, NotAuthenticated

log = logging.getLogger(__name__)

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]


class InvalidToken(NotAuthenticated):
    """401 with a message about the token; ``error`` is the RFC 6750 error code."""

    def __init__(self, detail: str, *, error: str = "invalid_token"):
        super().__init__(detail)
        self.error = error


class JwksKeys:
    """The issuer's public signing keys by key id, fetched with ``fetch_json`` and cached."""

    def __init__(self, url: str, fetch_json: Callable[[str], Any], *, algorithms: frozenset[str],
                 min_refresh: float, max_age: float, clock: Callable[[], float] = time.monotonic):
        self.url, self.fetch_json, self.algorithms = url, fetch_json, algorithms
        self.min_refresh, self.max_age, self.clock = min_refresh, max_age, clock
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = float("-inf")    # last successful fetch
        self._attempted_at = float("-inf")  # last fetch, successful or not
        self._lock = threading.Lock()
        self.fetches = 0

    def get(self, kid: str) -> PyJWK | None:
        """The key with this id, or None; DependencyUnavailable while no keys could ever be had."""
        now = self.clock()
        if now - self._fetched_at >= self.max_age:
            self._refresh(now)
        key = self._keys.get(kid)
        if key is None:
            self._refresh(now)  # perhaps a new key (rotation) — at most once per min_refresh
            key = self._keys.get(kid)
        if not self._keys:
            raise DependencyUnavailable("The gateway cannot check tokens right now: the identity "
                                        "provider's signing keys are unavailable.")
        return key

    def has(self, kid: str) -> bool:
        """Whether the key is among those last fetched (no fetch)."""
        return kid in self._keys

    def _refresh(self, now: float) -> None:
        with self._lock:
            # Rate limit, also when other threads were waiting for the lock to refresh.
            if now - self._attempted_at < self.min_refresh:
                return
            self._attempted_at = now
            try:
                keys = self._parse(self.fetch_json(self.url))
            except Exception as exc:  # keep the keys we had; retry after min_refresh
                log.warning("signing keys could not be fetched", extra={"error": f"{exc.__class__.__name__}: {exc}"})
                return
            self._keys, self._fetched_at = keys, now
            self.fetches += 1

    def _parse(self, document: Any) -> dict[str, PyJWK]:
        keys = {}
        for data in document.get("keys", []):
            if data.get("use", "sig") != "sig" or "kid" not in data:
                continue  # Keycloak also publishes an encryption key
            algorithm = data.get("alg")
            if algorithm is not None and algorithm not in self.algorithms:
                continue
            try:
                keys[data["kid"]] = PyJWK(data, algorithm=algorithm)
            except jwt.PyJWKError as exc:
                log.warning("unusable signing key skipped", extra={"kid": data["kid"], "error": str(exc)})
        return keys


class TokenVerifier:
    """Checks access tokens; a token that passed is remembered (by its exact text) until it
    expires, so the many requests made with one token pay for the checks once."""

    def __init__(self, keys: JwksKeys, *, issuer: str, audience: str, algorithms: frozenset[str],
                 leeway: int = 10, remembered: int = 10_000, clock: Callable[[], float] = time.time):
        self.keys, self.issuer, self.audience, self.algorithms = keys, issuer, audience, algorithms
        self.leeway, self.remembered, self.clock = leeway, remembered, clock
        self._passed: OrderedDict[str, tuple[dict[str, Any], str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def verify_header(self, authorization: str | None) -> dict[str, Any]:
        """The claims of the bearer token in an Authorization header value."""
        if not authorization:
            raise InvalidToken("An access token is required: send 'Authorization: Bearer <token>'.",
                               error="invalid_request")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("The Authorization header must be 'Bearer <access token>'.", error="invalid_request")
        return self.verify(token.strip())

    def verify(self, token: str) -> dict[str, Any]:
        now = self.clock()
        with self._lock:
            passed = self._passed.get(token)
        # Still unexpired, and its key still published (a withdrawn key ends its tokens too).
        if passed is not None and now <= passed[2] and self.keys.has(passed[1]):
            return passed[0]
        claims, kid = self._check(token)
        with self._lock:
            self._passed[token] = (claims, kid, claims["exp"] + self.leeway)
            while len(self._passed) > self.remembered:
                self._passed.popitem(last=False)
        return claims

    def _check(self, token: str) -> tuple[dict[str, Any], str]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise InvalidToken("The access token is not a well-formed JWT.") from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm.lower() == "none":
            raise InvalidToken("Unsigned tokens (alg 'none') are not accepted.")
        if algorithm not in self.algorithms:
            raise InvalidToken(f"Tokens signed with {algorithm} are not accepted; "
                               f"allowed: {', '.join(sorted(self.algorithms))}.")
        if unverified.get("iss") != self.issuer:
            raise InvalidToken("The access token was issued by someone other than this system's identity provider.")
        kid = header.get("kid")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("The access token is signed with a key the identity provider does not publish.")
        if key.algorithm_name != algorithm:
            raise InvalidToken(f"The access token's algorithm {algorithm} does not fit its key.")
        try:
            claims = jwt.decode(token, key.key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway, options={"require": REQUIRED_CLAIMS})
        except jwt.InvalidSignatureError:
            raise InvalidToken("The access token's signature is not valid.") from None
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The access token has expired; get a new one.") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken(f"The access token is not meant for the gateway (audience must include "
                               f"'{self.audience}').") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("The access token is not valid yet.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"The access token lacks the '{exc.claim}' claim.") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"The access token is not valid: {exc}.") from None
        if claims.get("typ", "Bearer") != "Bearer":
            raise InvalidToken("This is not an access token (an ID or refresh token cannot be used here).")
        return claims, kid


def json_fetcher(http, timeout) -> Callable[[str], Any]:
    """GET a JSON document with a urllib3 pool manager; raise on anything but 200."""
    def fetch(url: str) -> Any:
        response = http.request("GET", url, timeout=timeout, retries=False)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status} from {url}")
        return json.loads(response.data)
    return fetch
