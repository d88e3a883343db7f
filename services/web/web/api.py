"""The one way pages call the gateway: as the signed-in user (``api``) or, for the pages before
login such as activation and password reset, without a token (``public_api``)."""
from __future__ import annotations

from typing import Any

from flask import current_app, request

from .auth import call_gateway, request_id


def api(method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
    """The JSON answer; raises Rejected (with the field errors) when the service refuses."""
    gateway = current_app.extensions["web.gateway"]
    return call_gateway(lambda token: gateway.call(method, path, access_token=token, request_id=request_id(),
                                                   json=json, params=params))


def public_api(method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
    """A public route, with the browser's address for the gateway's per-IP limit (without it every
    browser would share the web UI's own address, and one limit)."""
    gateway = current_app.extensions["web.gateway"]
    return gateway.call(method, path, access_token=None, request_id=request_id(), json=json, params=params,
                        forwarded_for=request.remote_addr)
