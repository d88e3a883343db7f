"""The gateway, as the web UI calls it: the user's access token as bearer, JSON back."""
from __future__ import annotations

from typing import Any

import requests

from servicekit.web import REQUEST_ID_HEADER


class GatewayError(RuntimeError):
    def __init__(self, status: int, detail: str = ""):
        super().__init__(f"gateway answered {status}: {detail}")
        self.status, self.detail = status, detail


class TokenRefused(GatewayError):
    """401: the gateway does not accept the access token."""


class NoAccess(GatewayError):
    """403: the login is valid, but the user has no access (unknown to identity, or not allowed)."""


class GatewayUnavailable(GatewayError):
    """The gateway, or a service behind it, did not answer."""


class Rejected(GatewayError):
    """400/404/409/422/429: the service refused the request and said why; ``problem`` is its
    problem+json body (``errors`` maps fields to messages). Pages show it to the user in Danish."""

    def __init__(self, status: int, detail: str, problem: dict[str, Any]):
        super().__init__(status, detail)
        self.problem = problem

    @property
    def field_errors(self) -> dict[str, Any]:
        errors = self.problem.get("errors")
        return errors if isinstance(errors, dict) else {}


class GatewayClient:
    def __init__(self, base_url: str, *, timeout: float):
        self.base_url, self.timeout = base_url, timeout
        self.http = requests.Session()  # keeps connections to the gateway alive, thread-safe for requests

    def get(self, path: str, *, access_token: str, request_id: str, params: dict[str, Any] | None = None) -> Any:
        return self.call("GET", path, access_token=access_token, request_id=request_id, params=params)

    def call(self, method: str, path: str, *, access_token: str | None, request_id: str,
             json: Any = None, params: dict[str, Any] | None = None, forwarded_for: str | None = None) -> Any:
        """One request to the gateway; the JSON body of a 2xx answer (None when empty).

        ``access_token`` None calls a public route (activation, password reset); ``forwarded_for`` is
        then the browser's address, for the gateway's per-IP limit (it believes it only with
        GATEWAY_TRUSTED_PROXY_HOPS). A refusal the user can act on raises Rejected with the service's
        problem body; the rest raise GatewayError kinds.
        """
        headers = {"Accept": "application/json", REQUEST_ID_HEADER: request_id}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        if access_token is not None:
            headers["Authorization"] = f"Bearer {access_token}"
        try:
            response = self.http.request(method, f"{self.base_url}{path}", timeout=self.timeout, headers=headers,
                                         json=json, params=params)
        except requests.RequestException as exc:
            raise GatewayUnavailable(0, exc.__class__.__name__) from None
        if 200 <= response.status_code < 300:
            return response.json() if response.content else None
        detail = _detail(response)
        if response.status_code == 401:
            raise TokenRefused(401, detail)
        if response.status_code == 403:
            raise NoAccess(403, detail)
        if response.status_code in (502, 503, 504):
            raise GatewayUnavailable(response.status_code, detail)
        if response.status_code in (400, 404, 409, 422, 429):
            raise Rejected(response.status_code, detail, _problem(response))
        raise GatewayError(response.status_code, detail)

    def me(self, *, access_token: str, request_id: str) -> dict[str, Any]:
        """The caller's profile: names, e-mail, phone, roles, hospitals with departments."""
        return self.get("/api/identity/me", access_token=access_token, request_id=request_id)


def _problem(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:300]
    except ValueError:
        return ""
