"""An in-memory stand-in for the gateway's user administration routes, shaped like the contract
(docs/user-administration-api.md), so the page tests can check what the pages send and show
without the whole stack. It enforces the rules the pages depend on (which hospitals an
administrator may act on, field codes on bad input); identity's own tests prove identity keeps
them, and tests/e2e/test_browser_user_admin.py runs the pages against the real services."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from web.adapters.gateway_client import GatewayUnavailable, NoAccess, Rejected

OUH, AUH = str(uuid.uuid4()), str(uuid.uuid4())
REU_C, REU_D, AUH_LBR = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())

HOSPITALS = {
    OUH: {"id": OUH, "code": "OUH", "name": "Odense Universitetshospital", "region_name": "Region Syddanmark",
          "departments": [{"id": REU_C, "code": "OUH-REU-C", "name": "Reumatologisk Afdeling C", "active": True},
                          {"id": REU_D, "code": "OUH-REU-D", "name": "Reumatologisk Afdeling D", "active": True}],
          "review": {"last_reviewed_at": None, "last_reviewed_by": None, "overdue": True}},
    AUH: {"id": AUH, "code": "AUH", "name": "Aarhus Universitetshospital", "region_name": "Region Midtjylland",
          "departments": [{"id": AUH_LBR, "code": "AUH-LBR", "name": "Led-, Bindevævs- og Rygsygdomme",
                           "active": True}],
          "review": {"last_reviewed_at": "2026-01-05T09:00:00Z", "last_reviewed_by": "Rikke Rasmussen",
                     "overdue": False}},
}
DEPARTMENTS = {d["id"]: (h["id"], d["name"]) for h in HOSPITALS.values() for d in h["departments"]}


def row(user_id: str, username: str, first: str, last: str, **extra) -> dict[str, Any]:
    return {"id": user_id, "username": username, "first_name": first, "last_name": last,
            "email": f"{username}@example.org", "phone_present": False, "role": "clinician", "departments": [],
            "last_login_at": None, "mitid_linked": False, "blocked": False, "never_logged_in": True,
            "email_failed": False, **extra}


@dataclass
class UsersGateway:
    """``administers``: hospital ids the signed-in user is local administrator of; None = registry
    administrator. ``calls`` records (method, path, json, params) of every call."""
    administers: list[str] | None = field(default_factory=lambda: [OUH])
    calls: list[tuple] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    memberships: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (user, hospital) -> role, depts
    reviews: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    keycloak_down: bool = False
    unlocked: list[str] = field(default_factory=list)

    def add_user(self, hospital: str, username: str, first: str, last: str, *, departments=(), role="clinician",
                 **extra) -> str:
        user_id = str(uuid.uuid4())
        self.users[user_id] = row(user_id, username, first, last, **extra)
        self.memberships[(user_id, hospital)] = {"role": role, "departments": list(departments)}
        return user_id

    # --- what the GatewayClient offers the pages ---------------------------------------------
    def me(self, *, access_token: str, request_id: str) -> dict[str, Any]:
        registry = self.administers is None
        return {"id": str(uuid.uuid4()), "username": "admin", "first_name": "Ole", "last_name": "Udsen",
                "email": "ole.udsen@example.org", "registry_admin": registry,
                "roles": ["registry_admin"] if registry else (["local_admin"] if self.administers else ["clinician"]),
                "memberships": [{"hospital": {k: HOSPITALS[h][k] for k in ("id", "code", "name")},
                                 "role": "local_admin", "departments": []} for h in (self.administers or [])]}

    def call(self, method: str, path: str, *, access_token, request_id, json=None, params=None):
        self.calls.append((method, path, json, params))
        for pattern, handler in self.ROUTES:
            match = re.fullmatch(pattern, f"{method} {path}")
            if match:
                return handler(self, *match.groups(), body=json or {}, params=params or {})
        raise Rejected(404, "no such route", {})

    # --- helpers --------------------------------------------------------------------------------
    def _may(self, hospital: str) -> None:
        if hospital not in HOSPITALS:
            raise Rejected(404, "unknown hospital", {})
        if self.administers is not None and hospital not in self.administers:
            raise NoAccess(403, "not your hospital")

    def _row(self, user_id: str, hospital: str) -> dict[str, Any]:
        membership = self.memberships[(user_id, hospital)]
        return {**self.users[user_id], "role": membership["role"],
                "departments": [{"id": d, "name": DEPARTMENTS[d][1]} for d in membership["departments"]]}

    def _detail(self, user_id: str, hospital: str) -> dict[str, Any]:
        hospitals = [{"id": h, "name": HOSPITALS[h]["name"], "role": m["role"]}
                     for (u, h), m in self.memberships.items() if u == user_id]
        membership = self.memberships[(user_id, hospital)]
        return {**self._row(user_id, hospital), "hospitals": hospitals,
                "version": f"{membership['role']}|{','.join(sorted(membership['departments']))}",
                "audit": [{"at": "2026-03-02T13:05:00Z", "actor": "Ole Udsen", "action": "created",
                           "hospital_name": HOSPITALS[hospital]["name"], "before": {},
                           "after": {"username": self.users[user_id]["username"], "role": "clinician", "review_id": "internal",
                                     "departments": [{"id": REU_C, "name": "Reumatologisk Afdeling C"}]}}]}

    @staticmethod
    def _refuse(status: int, codes: dict[str, str]):
        raise Rejected(status, "invalid", {"errors": {k: [v] for k, v in codes.items()}, "codes": codes})

    def _check_access(self, hospital: str, body: dict, *, at_least_one: bool) -> None:
        codes = {}
        if body.get("role") not in ("local_admin", "clinician", "secretary"):
            codes["role"] = "invalid_role"
        departments = body.get("departments") or []
        if any(DEPARTMENTS.get(d, (None,))[0] != hospital for d in departments):
            codes["departments"] = "unknown_department"
        elif at_least_one and not departments:
            codes["departments"] = "no_department"
        if codes:
            self._refuse(422, codes)

    # --- routes -----------------------------------------------------------------------------------
    def hospitals(self, body, params):
        ids = list(HOSPITALS) if self.administers is None else self.administers
        return [HOSPITALS[h] for h in ids]

    def list_users(self, hospital, body, params):
        self._may(hospital)
        rows = [self._row(u, h) for (u, h) in self.memberships if h == hospital]
        if params.get("q"):
            rows = [r for r in rows if params["q"].lower() in f"{r['first_name']} {r['last_name']} {r['username']}".lower()]
        page, per_page = int(params.get("page", 1)), int(params.get("per_page", 25))
        return {"items": rows[(page - 1) * per_page:page * per_page], "total": len(rows), "page": page,
                "per_page": per_page}

    def create(self, hospital, body, params):
        self._may(hospital)
        if self.keycloak_down:
            raise GatewayUnavailable(503, "Keycloak is down")
        codes = {}
        if not body.get("username"):
            codes["username"] = "required"
        elif any(u["username"] == body["username"] for u in self.users.values()):
            codes["username"] = "username_taken"
        if "@" not in (body.get("email") or ""):
            codes["email"] = "invalid_email"
        if body.get("phone") and not re.fullmatch(r"(\+45|0045)?\d{8}", body["phone"].replace(" ", "")):
            codes["phone"] = "invalid_phone"
        try:
            self._check_access(hospital, body, at_least_one=True)
        except Rejected as refused:
            codes.update(refused.problem["codes"])
        if codes:
            self._refuse(409 if codes.get("username") == "username_taken" and len(codes) == 1 else 422, codes)
        user_id = self.add_user(hospital, body["username"], body["first_name"], body["last_name"],
                                departments=body["departments"], role=body["role"])
        return self._detail(user_id, hospital)

    def user(self, hospital, user_id, body, params):
        self._may(hospital)
        if (user_id, hospital) not in self.memberships:
            raise Rejected(404, "not found", {})
        return self._detail(user_id, hospital)

    def access(self, hospital, user_id, body, params):
        self.user(hospital, user_id, body, params)
        if body.get("version") and body["version"] != self._detail(user_id, hospital)["version"]:
            self._refuse(409, {"version": "changed_meanwhile"})
        self._check_access(hospital, body, at_least_one=False)
        if not body["departments"]:
            del self.memberships[(user_id, hospital)]
            return {}
        self.memberships[(user_id, hospital)] = {"role": body["role"], "departments": body["departments"]}
        return self._detail(user_id, hospital)

    def search(self, body, params):
        if len(params.get("q", "")) < 3:
            self._refuse(422, {"q": "term_too_short"})
        found = [u for u in self.users.values()
                 if params["q"].lower() in u["username"].lower() or params["q"].lower() in u["email"].lower()]
        return {"items": [{k: u[k] for k in ("id", "username", "first_name", "last_name", "email")}
                          | {"hospitals": [{"id": h, "name": HOSPITALS[h]["name"]}
                                           for (uid, h) in self.memberships if uid == u["id"]]} for u in found],
                "truncated": False}

    def membership(self, hospital, user_id, body, params):
        self._may(hospital)
        if (user_id, hospital) in self.memberships:
            self._refuse(409, {"user": "already_member"})
        self._check_access(hospital, body, at_least_one=True)
        self.memberships[(user_id, hospital)] = {"role": body["role"], "departments": body["departments"]}
        return self._detail(user_id, hospital)

    def get_reviews(self, hospital, body, params):
        self._may(hospital)
        history = self.reviews.get(hospital, [])
        last = history[0] if history else None
        return {"last_reviewed_at": last and last["reviewed_at"], "last_reviewed_by": last and last["reviewed_by"],
                "overdue": last is None, "history": history}

    def post_review(self, hospital, body, params):
        self._may(hospital)
        entry = {"id": str(uuid.uuid4()), "reviewed_at": "2026-04-01T08:00:00Z", "reviewed_by": "Ole Udsen",
                 "removed_since_previous": [{"user": {"name": "Lene Juhl", "username": "ouhlaege"}, "departments": ["Reumatologisk Afdeling D"]}]}
        self.reviews.setdefault(hospital, []).insert(0, entry)
        return entry

    def blocked(self, hospital, body, params):
        self._may(hospital)
        return [self._row(u, h) for (u, h) in self.memberships if h == hospital and self.users[u]["blocked"]]

    def unlock(self, hospital, user_id, body, params):
        self.user(hospital, user_id, body, params)
        self.users[user_id]["blocked"] = False
        self.unlocked.append(user_id)

    ID = "([0-9a-f-]{36})"
    A = "/api/identity/admin"
    ROUTES = [
        (f"GET {A}/hospitals", hospitals),
        (f"GET {A}/hospitals/{ID}/users", list_users),
        (f"POST {A}/hospitals/{ID}/users", create),
        (f"GET {A}/hospitals/{ID}/users/{ID}", user),
        (f"PUT {A}/hospitals/{ID}/users/{ID}/access", access),
        (f"GET {A}/users/search", search),
        (f"POST {A}/hospitals/{ID}/users/{ID}/membership", membership),
        (f"GET {A}/hospitals/{ID}/reviews", get_reviews),
        (f"POST {A}/hospitals/{ID}/reviews", post_review),
        (f"GET {A}/hospitals/{ID}/blocked-users", blocked),
        (f"POST {A}/hospitals/{ID}/users/{ID}/unlock", unlock),
    ]
