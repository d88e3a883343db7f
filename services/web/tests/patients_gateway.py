"""The gateway, for the patient page tests: requests under /api/patients go to the real patients
service (its Flask app on a fresh PostgreSQL database, in this process) with a principal signed as
the gateway signs it; /api/identity/me answers the signed-in user's profile. So the pages meet the
service's real rules, answers and refusals without Keycloak; the whole path with the real gateway
and Keycloak is tests/e2e/test_browser_patients.py."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from servicekit.principal import HEADER, Membership, Principal, sign
from web.adapters.gateway_client import GatewayError, NoAccess, Rejected

PREFIX = "/api/patients"


def clinician(*departments: uuid.UUID, username: str = "ouhlaege") -> Principal:
    return Principal(subject=str(uuid.uuid4()), kind="user", username=username,
                     memberships=(Membership(hospital_id=uuid.uuid4(), role="clinician",
                                             departments=frozenset(departments)),))


def profile_of(principal: Principal, names: dict[uuid.UUID, str]) -> dict[str, Any]:
    """What identity's /me answers for this principal (the pages need names and departments)."""
    return {"id": principal.subject, "username": principal.username, "first_name": "Lene", "last_name": "Juhl",
            "email": f"{principal.username}@example.org", "phone": None, "registry_admin": principal.registry_admin,
            "roles": ["clinician"],
            "memberships": [{"hospital": {"id": str(m.hospital_id), "code": "H", "name": "Hospitalet"},
                             "role": m.role, "departments": [{"id": str(d), "code": "D", "name": names.get(d, "?"),
                                                              "active": True} for d in m.departments]}
                            for m in principal.memberships]}


@dataclass
class PatientsGateway:
    app: Any                      # the patients service's Flask app
    principal: Principal
    signing_key: Any
    profile: dict[str, Any]
    calls: list[tuple] = field(default_factory=list)   # (method, path, json, params)

    def me(self, *, access_token: str, request_id: str) -> dict[str, Any]:
        return self.profile

    def get(self, path: str, *, access_token: str, request_id: str, params=None) -> Any:
        return self.call("GET", path, access_token=access_token, request_id=request_id, params=params)

    def call(self, method: str, path: str, *, access_token: str | None, request_id: str, json: Any = None,
             params: dict[str, Any] | None = None) -> Any:
        assert path.startswith(f"{PREFIX}/"), path
        self.calls.append((method, path, json, params))
        response = self.app.test_client().open(
            path.removeprefix(PREFIX), method=method, json=json, query_string=params,
            headers={HEADER: sign(self.principal, audience="patients", key=self.signing_key)})
        body = response.get_json(silent=True)
        if 200 <= response.status_code < 300:
            return body
        # As web.adapters.gateway_client.GatewayClient sorts the gateway's answers.
        detail = str((body or {}).get("detail", ""))
        if response.status_code == 403:
            raise NoAccess(403, detail)
        if response.status_code in (400, 404, 409, 422, 429):
            raise Rejected(response.status_code, detail, body if isinstance(body, dict) else {})
        raise GatewayError(response.status_code, detail)
