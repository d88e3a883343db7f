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


class GatewayClient:
    def __init__(self, base_url: str, *, timeout: float):
        self.base_url, self.timeout = base_url, timeout
        self.http = requests.Session()  # keeps connections to the gateway alive, thread-safe for requests

    def get(self, path: str, *, access_token: str, request_id: str) -> Any:
        try:
            response = self.http.get(f"{self.base_url}{path}", timeout=self.timeout, headers={
                "Authorization": f"Bearer {access_token}", "Accept": "application/json",
                REQUEST_ID_HEADER: request_id})
        except requests.RequestException as exc:
            raise GatewayUnavailable(0, exc.__class__.__name__) from None
        if response.status_code == 200:
            return response.json()
        detail = _detail(response)
        if response.status_code == 401:
            raise TokenRefused(401, detail)
        if response.status_code == 403:
            raise NoAccess(403, detail)
        if response.status_code in (502, 503, 504):
            raise GatewayUnavailable(response.status_code, detail)
        raise GatewayError(response.status_code, detail)

    def me(self, *, access_token: str, request_id: str) -> dict[str, Any]:
        """The caller's profile: names, e-mail, phone, roles, hospitals with departments."""
        return self.get("/api/identity/me", access_token=access_token, request_id=request_id)


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:300]
    except ValueError:
        return ""
