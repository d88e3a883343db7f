"""The Flask side every service shares: app factory base, problem errors, request ids, access
log, health and readiness, metrics and the OpenAPI document (flask-smorest, Swagger UI on /docs).
"""
from __future__ import annotations

import http
import logging
import re
import time
from typing import Any, Callable, Iterable

from flask import Flask, Response, current_app, g, jsonify, request
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import principal, request_guard
from .config import ProcessSettings
from .db import Database
from .errors import ServiceError
from .logs import configure_logging, correlation_id, new_correlation_id
from .messaging.broker import connect
from .metrics import HTTP_REQUESTS, HTTP_SECONDS

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
PROBLEM_JSON = "application/problem+json"
SWAGGER_UI_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"


def problem(status: int, title: str, detail: str, errors: dict | None = None,
            codes: dict[str, str] | None = None) -> Response:
    body = {"status": status, "title": title, "detail": detail}
    if errors:
        body["errors"] = errors
    if codes:
        body["codes"] = codes
    response = jsonify(body)
    response.status_code = status
    response.mimetype = PROBLEM_JSON
    return response


class ProblemSchema(Schema):
    """An error answer (RFC 9457), as every service writes it."""

    status = fields.Integer(required=True)
    title = fields.String(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "field -> what is wrong with it"})
    codes = fields.Dict(keys=fields.String(), values=fields.String(),
                        metadata={"description": "field -> machine-readable code (e.g. username_taken)"})


class ProblemApi(Api):
    """flask-smorest's Api, answering every HTTP error as application/problem+json — and saying so
    in the OpenAPI document, so that clients (and the fuzzer) can hold the services to it."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            content_type = self.DEFAULT_RESPONSE_CONTENT_TYPE
            if status >= 400:
                response["schema"], content_type = self.ERROR_SCHEMA, PROBLEM_JSON
            prepare_response(response, self.spec, content_type)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)

    def handle_http_exception(self, error: HTTPException):
        errors = None
        data = getattr(error, "data", None) or {}
        if "messages" in data:  # webargs validation: field -> messages
            errors = data["messages"]
        detail = error.description if errors is None else "Some fields are missing or invalid."
        response = problem(error.code or 500, error.name, detail, errors)
        for name, value in (data.get("headers") or {}).items():
            response.headers[name] = value
        return response


def create_service_app(settings: ProcessSettings, *, title: str, blueprints: Iterable[Blueprint],
                       readiness: dict[str, Callable[[], None]], version: str = "1.0",
                       principal_key: Ed25519PublicKey | None = None, openapi: bool = True) -> Flask:
    """The base Flask app of a service. With ``principal_key`` every route but the operational
    ones (health, metrics, OpenAPI) requires the gateway-signed principal. ``openapi=False``
    leaves /openapi.json and /docs to the app (the gateway aggregates; the web UI has none)."""
    configure_logging(settings.service, settings.log_level)
    app = Flask(settings.service)
    app.config.update(API_TITLE=title, API_VERSION=version, OPENAPI_VERSION="3.0.3",
                      MAX_CONTENT_LENGTH=1024 * 1024)
    if openapi:
        app.config.update(
            OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
            OPENAPI_SWAGGER_UI_PATH="/docs", OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_URL,
        )
    api = ProblemApi(app)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    _install_request_context(app)
    request_guard.install(app)  # NUL, surrogates, deep JSON, oversized chunked bodies: 400/413
    _install_error_handlers(app)
    _install_operations_routes(app, readiness)
    if principal_key is not None:
        _install_principal_check(app, settings.service, principal_key)
    app.extensions["danbio.settings"] = settings
    return app


OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")
# A service's routes for callers who are not logged in (account activation, password reset): the
# gateway forwards /api/<service>/public/** without a token and without a principal, and the service
# serves them without one. Their views must never call current_principal().
PUBLIC_PREFIX = "/public/"


def _install_principal_check(app: Flask, audience: str, key: Ed25519PublicKey) -> None:
    @app.before_request
    def require_principal():
        if request.path.startswith(OPEN_PATHS) or request.path.startswith(PUBLIC_PREFIX) or request.url_rule is None:
            return None
        g.principal = principal.verify(request.headers.get(principal.HEADER), audience=audience, key=key)
        return None


def current_principal() -> principal.Principal:
    """The verified caller of this request (set before any protected view runs)."""
    return g.principal


def _install_request_context(app: Flask) -> None:
    @app.before_request
    def start_request():
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else new_correlation_id()
        g.correlation_token = correlation_id.set(g.request_id)
        g.started = time.perf_counter()

    @app.after_request
    def finish_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        HTTP_REQUESTS.labels(request.method, endpoint, response.status_code).inc()
        HTTP_SECONDS.labels(request.method, endpoint).observe(elapsed)
        if endpoint not in {"/healthz", "/readyz", "/metrics"}:
            # The path only: query strings may carry search terms, and are not for the log.
            log.info("request", extra={"method": request.method, "path": _loggable_path(),
                                       "status": response.status_code, "ms": round(elapsed * 1000, 1)})
        return response

    @app.teardown_request
    def reset_context(_exc):
        token = g.pop("correlation_token", None)
        if token is not None:
            correlation_id.reset(token)


# Paths whose rest is a secret (the web UI's /aktiver/<set-password token>): logged up to the prefix.
SECRET_PATHS_CONFIG = "DANBIO_SECRET_PATH_PREFIXES"


def _loggable_path() -> str:
    for prefix in current_app.config.get(SECRET_PATHS_CONFIG, ()):
        if request.path.startswith(prefix):
            return prefix + "<redacted>"
    return request.path


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError):
        return problem(error.status, error.title, error.detail, error.errors or None, error.codes or None)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return problem(error.code or 500, error.name, error.description)
        if _database_unreachable(error):
            # PostgreSQL restarting or out of reach is no bug of ours: a clear 503, and the pool's
            # pre-ping brings the service back by itself once the database answers again.
            log.warning("database unreachable", extra={"error": error.__class__.__name__})
            return problem(503, "Service unavailable",
                           "The service's database is not reachable at the moment; try again shortly.")
        log.exception("unhandled error")
        return problem(500, "Internal error",
                       f"Something went wrong on our side. Quote request id {g.get('request_id', '')} to support.")


def _database_unreachable(error: Exception) -> bool:
    """A connection to the database failed or broke (not an error in a statement of ours)."""
    return isinstance(error, DBAPIError) and (error.connection_invalidated or isinstance(error, OperationalError))


def _install_operations_routes(app: Flask, readiness: dict[str, Callable[[], None]]) -> None:
    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        results, ready = {}, True
        for name, check in readiness.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:
                ready = False
                results[name] = f"unavailable: {exc.__class__.__name__}"
                log.warning("readiness check failed", extra={"check": name, "error": str(exc)[:200]})
        return jsonify({"status": "ready" if ready else "not ready", "checks": results}), (200 if ready else 503)

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def database_check(db: Database) -> Callable[[], None]:
    return db.ping


def broker_check(url: str) -> Callable[[], None]:
    def check() -> None:
        with connect(url) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    return check
