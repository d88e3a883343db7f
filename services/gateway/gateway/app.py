"""create_app(): the gateway, the one entry point to the services.

For every request under /api/<service>/: refuse what the gateway does not route, apply the rate
limits, verify the access token (except under /api/<service>/public/, the routes for callers who are
not logged in), resolve the caller's principal (cached), and forward the request
with the principal signed for that service (Gateway.admit, then Upstream.exchange). Those requests
are served by fastpath.FastForward, plain WSGI in front of Flask; Flask serves the rest. Run it as
ONE gunicorn process with threads per instance: the principal cache and the rate-limit windows live
in the process.
"""
from __future__ import annotations

import atexit
from dataclasses import dataclass
from urllib.parse import quote

import urllib3
from flask import Flask, Response, g, jsonify, request
from urllib3.util import Timeout
from werkzeug.middleware.proxy_fix import ProxyFix

from servicekit.config import load
from servicekit.errors import NotFound, TooManyRequests
from servicekit.web import OPEN_PATHS, PUBLIC_PREFIX, SWAGGER_UI_URL, broker_check, create_service_app, problem

from .fastpath import FastForward
from .invalidation import Invalidation
from .openapi import AggregatedOpenApi, document_fetcher
from .principals import PrincipalCache, SignedPrincipals, identity_lookup
from .proxy import Upstream
from .ratelimit import RateLimiter
from .settings import GatewaySettings
from .tokens import InvalidToken, JwksKeys, TokenVerifier, json_fetcher

API_PREFIX = "/api/"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
HSTS = "max-age=31536000; includeSubDomains"
DOCS_CSP = (f"default-src 'none'; script-src {SWAGGER_UI_URL} 'unsafe-inline'; style-src {SWAGGER_UI_URL}; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")

SWAGGER_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>danbio API</title>
<link rel="stylesheet" href="{SWAGGER_UI_URL}swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{SWAGGER_UI_URL}swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger-ui"}});</script>
</body></html>"""


def routed(path: str) -> bool:
    """Whether the gateway forwards this service path: not the operational or internal ones."""
    return not (path.startswith(OPEN_PATHS) or path == "/internal" or path.startswith("/internal/"))


@dataclass
class Gateway:
    settings: GatewaySettings
    verifier: TokenVerifier
    principals: PrincipalCache
    limiter: RateLimiter
    upstreams: dict[str, Upstream]
    openapi: AggregatedOpenApi
    invalidation: Invalidation
    signatures: SignedPrincipals

    def stop(self) -> None:
        self.invalidation.stop()

    def admit(self, method: str, request_path: str, service: str, rest: str, client_ip: str | None,
              authorization: str | None) -> tuple[Upstream, str, str | None]:
        """Everything before forwarding a request for /api/<service>/<rest>: refuse what the
        gateway does not route, apply the rate limits, verify the token (except on public routes)
        and resolve the principal. Returns (upstream, quoted service path, signed principal or None);
        raises a ServiceError (404, 429, 401, 403, 503) otherwise."""
        upstream = self.upstreams.get(service)
        segments = rest.split("/")
        path = "/" + rest
        if upstream is None or "." in segments or ".." in segments or not routed(path):
            raise NotFound(f"The gateway has no route for {request_path}.")
        self.limiter.check(method, request_path, kind="ip", key=client_ip or "unknown")
        if path.startswith(PUBLIC_PREFIX):
            # Nobody is logged in here; the services' public routes expect no principal.
            return upstream, _quoted(path), None
        claims = self.verifier.verify_header(authorization)
        self.limiter.check(method, request_path, kind="user", key=claims["sub"])
        caller = self.principals.get(claims["sub"])
        return upstream, _quoted(path), self.signatures.header(caller, service)


def build_gateway(settings: GatewaySettings) -> Gateway:
    upstreams = {name: Upstream(name, url, pool_size=settings.pool_size, connect_timeout=settings.connect_timeout,
                                read_timeout=settings.read_timeout)
                 for name, url in settings.upstreams().items()}
    lookup_timeout = Timeout(connect=settings.connect_timeout, read=min(settings.read_timeout, 10.0))
    keys = JwksKeys(settings.jwks_url, json_fetcher(urllib3.PoolManager(maxsize=2), lookup_timeout),
                    algorithms=settings.algorithms, min_refresh=settings.jwks_min_refresh_seconds,
                    max_age=settings.jwks_max_age_seconds)
    verifier = TokenVerifier(keys, issuer=settings.issuer, audience=settings.audience,
                             algorithms=settings.algorithms, leeway=settings.token_leeway_seconds)
    principals = PrincipalCache(identity_lookup(upstreams["identity"].pool, settings.principal_signing_key,
                                                timeout=lookup_timeout),
                                ttl=settings.principal_cache_seconds, max_entries=settings.principal_cache_size)
    openapi = AggregatedOpenApi({name: document_fetcher(upstream.pool, lookup_timeout)
                                 for name, upstream in upstreams.items()},
                                routed=routed, cache_seconds=settings.openapi_cache_seconds)
    return Gateway(settings, verifier, principals, RateLimiter(settings.rate_limits), upstreams, openapi,
                   Invalidation(settings, principals), SignedPrincipals(settings.principal_signing_key))


def create_app(environ=None) -> Flask:
    settings = load(GatewaySettings, "gateway", environ)
    gateway = build_gateway(settings)

    def invalidation_check() -> None:
        if not gateway.principals.enabled:
            raise RuntimeError("not consuming access changes")

    def signing_keys_check() -> None:
        gateway.verifier.keys.get("")  # raises while no key could be fetched

    app = create_service_app(settings, title="danbio gateway", blueprints=[], openapi=False, readiness={
        "broker": broker_check(settings.broker_url), "principal invalidation": invalidation_check,
        "signing keys": signing_keys_check})
    app.wsgi_app = FastForward(app.wsgi_app, gateway, methods=frozenset(METHODS),
                               max_body=app.config["MAX_CONTENT_LENGTH"], security_headers=SECURITY_HEADERS,
                               hsts=HSTS, secret_path_prefixes=app.config.get("DANBIO_SECRET_PATH_PREFIXES", ()))
    if settings.trusted_proxy_hops:  # outermost: the fast path sees the corrected addresses too
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.extensions["gateway"] = gateway
    _install_routes(app, gateway)
    _install_error_headers(app)
    _install_security_headers(app)
    gateway.invalidation.start()
    atexit.register(gateway.stop)
    return app


def _install_routes(app: Flask, gateway: Gateway) -> None:
    # Requests under /api/ are served by fastpath.FastForward before Flask sees them; this route
    # serves the few it leaves to Flask (paths of an unusual shape), with the same checks.
    @app.route("/api/<service>", methods=METHODS, defaults={"rest": ""})
    @app.route("/api/<service>/<path:rest>", methods=METHODS)
    def forward(service: str, rest: str):
        upstream, path, principal_header = gateway.admit(request.method, request.path, service, rest,
                                                         request.remote_addr, request.headers.get("Authorization"))
        return upstream.forward(request, path, principal_header=principal_header, request_id=g.request_id)

    @app.get("/openapi.json")
    def openapi_document():
        return jsonify(gateway.openapi.document())

    @app.get("/docs")
    def docs():
        response = Response(SWAGGER_PAGE, mimetype="text/html")
        response.headers["Content-Security-Policy"] = DOCS_CSP
        return response


def _quoted(path: str) -> str:
    # The decoded path, quoted again: what was checked above is exactly what the service sees.
    return quote(path, safe="/:@!$&'()*+,;=-._~")


def _install_error_headers(app: Flask) -> None:
    @app.errorhandler(InvalidToken)
    def invalid_token(error: InvalidToken):
        response = problem(error.status, error.title, error.detail)
        description = error.detail.replace('"', "'")
        response.headers["WWW-Authenticate"] = f'Bearer error="{error.error}", error_description="{description}"'
        return response

    @app.errorhandler(TooManyRequests)
    def too_many(error: TooManyRequests):
        response = problem(error.status, error.title, error.detail)
        response.headers["Retry-After"] = str(getattr(error, "retry_after", 1))
        return response


def _install_security_headers(app: Flask) -> None:
    @app.after_request
    def secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Cache-Control", "no-store")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
