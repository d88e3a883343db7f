"""Errors as problem responses (RFC 9457): a status, a title and a detail a person understands.

Use cases raise these; the web layer turns them into JSON. Anything else becomes a 500 with no
internals in the body — the details go to the log under the request's correlation id.
"""
from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An expected failure with the HTTP status that describes it."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict[str, Any] | None = None, codes: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
        # One machine-readable code per field (e.g. "username_taken"): the web UI words it in Danish.
        self.codes = codes or {}

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "title": self.title, "detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        if self.codes:
            body["codes"] = self.codes
        return body


class InvalidInput(ServiceError):
    status, title = 422, "Invalid input"


class NotAuthenticated(ServiceError):
    status, title = 401, "Not authenticated"


class Forbidden(ServiceError):
    status, title = 403, "Forbidden"


class NotFound(ServiceError):
    status, title = 404, "Not found"


class Conflict(ServiceError):
    status, title = 409, "Conflict"


class TooManyRequests(ServiceError):
    status, title = 429, "Too many requests"


class DependencyUnavailable(ServiceError):
    """A server we depend on (Keycloak, the database) did not answer; the request changed nothing."""

    status, title = 503, "Service unavailable"


class ContractError(ValueError):
    """An event does not match its contract: never published, and dead-lettered when consumed."""
