"""The signed-in user's profile (from the gateway) as the pages need it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, g

from .auth import call_gateway, request_id

ROLE_NAMES = {
    "registry_admin": "Registeradministrator",
    "local_admin": "Lokal brugeradministrator",
    "clinician": "Kliniker",
    "secretary": "Sekretær",
}


@dataclass(frozen=True)
class Profile:
    data: dict[str, Any]

    @property
    def full_name(self) -> str:
        return f"{self.data.get('first_name', '')} {self.data.get('last_name', '')}".strip() or self.data["username"]

    @property
    def registry_admin(self) -> bool:
        return bool(self.data.get("registry_admin"))

    @property
    def administered_hospitals(self) -> list[dict[str, Any]]:
        return [m["hospital"] for m in self.data.get("memberships", []) if m.get("role") == "local_admin"]

    @property
    def is_administrator(self) -> bool:
        """Sees BRUGERADMINISTRATION: a registry administrator, or a local one somewhere."""
        return self.registry_admin or bool(self.administered_hospitals)

    @property
    def role_names(self) -> list[str]:
        return [ROLE_NAMES.get(role, role) for role in self.data.get("roles", [])]

    def role_name(self, role: str) -> str:
        return ROLE_NAMES.get(role, role)


def current_profile() -> Profile:
    """Fetched once per request, through the gateway."""
    if "profile" not in g:
        gateway = current_app.extensions["web.gateway"]
        g.profile = Profile(call_gateway(lambda token: gateway.me(access_token=token, request_id=request_id())))
    return g.profile
