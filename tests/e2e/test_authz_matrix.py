"""The authorisation matrix: every routed endpoint × every kind of caller, through the gateway with
real tokens, each asserting the exact status.

Callers: nobody (no token), the registry administrator, the local administrator of hospital A
(OUH), a clinician and a secretary at department A (OUH-REU-C), a clinician at department B of
another hospital (AUH-LBR), and the patient platform (a machine client). Resources: a patient at A,
a patient at B, and transfers from A to B made fresh for each case that changes one.

The table is the specification. An endpoint in the gateway's OpenAPI document without a row fails
`test_every_endpoint_has_a_row`: a new endpoint is not done before its row is written.
"""
from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
import requests

from identity.service.seed import DEMO_USERS
from servicekit import testing

from .conftest import invented_username, user_factory

DEMO = {user.username: user for user in DEMO_USERS}
CALLERS = ("nobody", "registry_admin", "local_admin_a", "clinician_a", "secretary_a", "clinician_b", "platform")
_rng = random.Random(20261204)
_serials = itertools.count(1000)


def fresh_cpr() -> str:
    """An invented CPR number not used before in this session (born 1950-1999: 7th digit 0-3)."""
    return f"{_rng.randint(1, 28):02d}{_rng.randint(1, 12):02d}{_rng.randint(50, 99):02d}-{_rng.randint(0, 3)}{next(_serials) % 1000:03d}"


def unique_letters() -> str:
    """A name part no other test's locators can confuse with their own patients."""
    return "".join(_rng.choice("abcdefghijklmnopqrstuvwxyzæøå") for _ in range(8)).capitalize()


@dataclass
class World:
    gateway: str
    headers: dict[str, dict[str, str]]
    dept_a: str
    dept_b: str
    hospital_a: str
    hospital_b: str
    patient_a: str = ""
    cpr_a: str = ""
    patient_b: str = ""
    cpr_b: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    def call(self, caller: str, method: str, path: str, json: Any = None, params: dict | None = None):
        return requests.request(method, f"{self.gateway}{path}", headers=self.headers[caller], json=json,
                                params=params, timeout=20)

    def new_patient(self, caller: str, department: str) -> tuple[str, str]:
        cpr = fresh_cpr()
        answer = self.call(caller, "POST", "/api/patients/patients",
                           json={"cpr": cpr, "name": f"Matrix {unique_letters()}", "diagnosis_group": "RA",
                                 "department_id": department})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"], cpr

    def new_user(self, hospital: str, department: str) -> str:
        """A fresh clinician of ``hospital``, created by the registry administrator through the API."""
        name = invented_username("matrix")
        answer = self.call("registry_admin", "POST", f"/api/identity/admin/hospitals/{hospital}/users", json={
            "username": name, "first_name": "Matrix", "last_name": "Bruger", "email": f"{name}@example.org",
            "phone": None, "role": "clinician", "departments": [department]})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def own_profile(self, caller: str) -> dict:
        """The caller's profile as PUT /me takes it, unchanged (other tests rely on the demo users')."""
        me = self.call(caller, "GET", "/api/identity/me")
        if me.status_code != 200:
            return {"first_name": "Ingen", "last_name": "Profil", "email": "ingen@example.org", "phone": None}
        return {key: me.json()[key] for key in ("first_name", "last_name", "email", "phone")}

    def admin(self, path: str) -> str:
        return f"/api/identity/admin{path}"

    def pending_transfer(self) -> str:
        """A fresh request by department B for a fresh patient of department A (A decides)."""
        _patient, cpr = self.new_patient("clinician_a", self.dept_a)
        answer = self.call("clinician_b", "POST", "/api/patients/transfers",
                           json={"cpr": cpr, "from_department_ids": [self.dept_a], "to_department_id": self.dept_b})
        assert answer.status_code == 201, answer.text
        return answer.json()[0]["id"]


@dataclass(frozen=True)
class Row:
    """One endpoint: how to call it (``request(world, caller) -> (path, json, params)``) and, per
    caller, the exact status expected."""

    method: str
    template: str
    request: Callable[[World, str], tuple[str, Any, dict | None]]
    expected: dict[str, int]


def same(status: int, **others: int) -> dict[str, int]:
    """``status`` for every signed-in caller unless named; 401 for nobody."""
    return {"nobody": 401, **{caller: status for caller in CALLERS[1:]}, **others}


def users(status: int, **others: int) -> dict[str, int]:
    """``status`` for the people; the platform is refused (it only reports status)."""
    return same(status, platform=403, **others)


def new_user_body(department: str) -> dict:
    name = invented_username("matrix")
    return {"username": name, "first_name": "Matrix", "last_name": "Ny", "email": f"{name}@example.org",
            "phone": "12 34 56 78", "role": "clinician", "departments": [department]}


def fixed(path: str, json: Any = None, params: dict | None = None):
    return lambda world, _caller: (path, json, params)


ROWS: list[Row] = [
    # --- identity ---------------------------------------------------------------------------
    Row("GET", "/api/identity/me", fixed("/api/identity/me"), users(200)),
    # Reference data (names of departments), as patients' /departments: every signed-in caller.
    Row("GET", "/api/identity/departments", fixed("/api/identity/departments"), same(200)),
    Row("PUT", "/api/identity/me", lambda w, c: ("/api/identity/me", w.own_profile(c), None), users(200)),
    Row("POST", "/api/identity/me/logins", fixed("/api/identity/me/logins"), users(204)),
    # --- identity: federation (the caller's own links; nobody here has one) ---------------------
    Row("GET", "/api/identity/me/federation", fixed("/api/identity/me/federation"), users(200)),
    Row("POST", "/api/identity/me/federation/{alias}/check", fixed("/api/identity/me/federation/mitid/check", json={}),
        users(422)),  # not_linked
    Row("DELETE", "/api/identity/me/federation/{alias}", fixed("/api/identity/me/federation/mitid"), users(204)),
    Row("POST", "/api/identity/me/federation/{alias}/logins", fixed("/api/identity/me/federation/mitid/logins", json={}),
        users(422)),  # not_linked: a federated login of someone without the link is refused
    # --- identity: public routes, for people who are not logged in (a token changes nothing) -----
    Row("POST", "/api/identity/public/password-resets",
        fixed("/api/identity/public/password-resets", json={"username": "nobody-at-all"}),
        {caller: 202 for caller in CALLERS}),
    Row("POST", "/api/identity/public/password-resets/{reset_id}/code",
        lambda w, _c: (f"/api/identity/public/password-resets/{uuid.uuid4()}/code", {}, None),
        {caller: 422 for caller in CALLERS}),  # reset_expired: the same for an unknown request
    Row("POST", "/api/identity/public/password-resets/{reset_id}/verify",
        lambda w, _c: (f"/api/identity/public/password-resets/{uuid.uuid4()}/verify", {"code": "123456"}, None),
        {caller: 422 for caller in CALLERS}),
    Row("POST", "/api/identity/public/set-password/check",
        fixed("/api/identity/public/set-password/check", json={"token": "not-a-token"}),
        {caller: 422 for caller in CALLERS}),
    Row("POST", "/api/identity/public/set-password",
        fixed("/api/identity/public/set-password", json={"token": "not-a-token", "password": "Whatever-2026-x"}),
        {caller: 422 for caller in CALLERS}),
    # --- identity: user administration (A = OUH, administered by local_admin_a) -------------------
    Row("GET", "/api/identity/admin/hospitals", fixed("/api/identity/admin/hospitals"),
        users(403, registry_admin=200, local_admin_a=200)),
    Row("GET", "/api/identity/admin/hospitals/{hospital_id}/users",
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/users"), None, None),
        users(403, registry_admin=200, local_admin_a=200)),
    Row("GET", "/api/identity/admin/hospitals/{hospital_id}/users",  # another hospital's list
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_b}/users"), None, None), users(403, registry_admin=200)),
    Row("POST", "/api/identity/admin/hospitals/{hospital_id}/users",
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/users"), new_user_body(w.dept_a), None),
        users(403, registry_admin=201, local_admin_a=201)),
    Row("POST", "/api/identity/admin/hospitals/{hospital_id}/users",  # a user for another hospital
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_b}/users"), new_user_body(w.dept_b), None),
        users(403, registry_admin=201)),
    Row("GET", "/api/identity/admin/hospitals/{hospital_id}/users/{user_id}",
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/users/{w.notes['user_a']}"), None, None),
        users(403, registry_admin=200, local_admin_a=200)),
    Row("GET", "/api/identity/admin/hospitals/{hospital_id}/users/{user_id}",  # B's user, asked as A's
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/users/{w.notes['user_b']}"), None, None),
        users(403, registry_admin=404, local_admin_a=404)),
    Row("PUT", "/api/identity/admin/hospitals/{hospital_id}/users/{user_id}/access",
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/users/{w.new_user(w.hospital_a, w.dept_a)}/access"),
                   {"role": "secretary", "departments": [w.dept_a]}, None),
        users(403, registry_admin=200, local_admin_a=200)),
    Row("PUT", "/api/identity/admin/hospitals/{hospital_id}/users/{user_id}/access",  # B's user through B
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_b}/users/{w.new_user(w.hospital_b, w.dept_b)}/access"),
                   {"role": "secretary", "departments": [w.dept_b]}, None),
        users(403, registry_admin=200)),
    Row("PUT", "/api/identity/admin/hospitals/{hospital_id}/users/{user_id}/phone",
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/users/{w.notes['user_a']}/phone"), {"phone": "20 12 34 56"},
                       None),
        users(403, registry_admin=200, local_admin_a=200)),
    Row("PUT", "/api/identity/admin/hospitals/{hospital_id}/users/{user_id}/phone",  # B's user through B
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_b}/users/{w.notes['user_b']}/phone"), {"phone": "20 12 34 56"},
                       None),
        users(403, registry_admin=200)),
    Row("GET", "/api/identity/admin/users/search", fixed("/api/identity/admin/users/search", params={"q": "matrix"}),
        users(403, registry_admin=200, local_admin_a=200)),
    Row("POST", "/api/identity/admin/hospitals/{hospital_id}/users/{user_id}/membership",
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/users/{w.new_user(w.hospital_b, w.dept_b)}/membership"),
                   {"role": "clinician", "departments": [w.dept_a]}, None),
        users(403, registry_admin=201, local_admin_a=201)),
    Row("GET", "/api/identity/admin/hospitals/{hospital_id}/reviews",
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/reviews"), None, None),
        users(403, registry_admin=200, local_admin_a=200)),
    Row("POST", "/api/identity/admin/hospitals/{hospital_id}/reviews",
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/reviews"), {}, None),
        users(403, registry_admin=201, local_admin_a=201)),
    Row("POST", "/api/identity/admin/hospitals/{hospital_id}/reviews",  # another hospital's review
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_b}/reviews"), {}, None), users(403, registry_admin=201)),
    Row("GET", "/api/identity/admin/hospitals/{hospital_id}/blocked-users",
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/blocked-users"), None, None),
        users(403, registry_admin=200, local_admin_a=200)),
    Row("POST", "/api/identity/admin/hospitals/{hospital_id}/users/{user_id}/unlock",
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_a}/users/{w.notes['user_a']}/unlock"), {}, None),
        users(403, registry_admin=202, local_admin_a=202)),
    Row("POST", "/api/identity/admin/hospitals/{hospital_id}/users/{user_id}/unlock",  # B's user through B
        lambda w, _c: (w.admin(f"/hospitals/{w.hospital_b}/users/{w.notes['user_b']}/unlock"), {}, None),
        users(403, registry_admin=202)),
    # --- patients: organisation ---------------------------------------------------------------
    Row("GET", "/api/patients/regions", fixed("/api/patients/regions"), same(200)),
    Row("GET", "/api/patients/departments", fixed("/api/patients/departments", params={"mine": "true"}), same(200)),
    # --- patients: registration ---------------------------------------------------------------
    Row("POST", "/api/patients/patients/lookup",
        lambda w, _c: ("/api/patients/patients/lookup", {"cpr": w.cpr_a}, None), users(200)),
    Row("POST", "/api/patients/patients",
        lambda w, _c: ("/api/patients/patients", {"cpr": fresh_cpr(), "name": f"Ny {unique_letters()}", "diagnosis_group": "PsA",
                                              "department_id": w.dept_a}, None),
        users(201, registry_admin=403, clinician_b=403)),
    Row("POST", "/api/patients/patients/search",
        lambda w, _c: ("/api/patients/patients/search", {"cpr": w.cpr_a}, None), users(200)),
    Row("GET", "/api/patients/patients/{patient_id}",
        lambda w, _c: (f"/api/patients/patients/{w.patient_a}", None, None), users(200, clinician_b=404)),
    Row("PATCH", "/api/patients/patients/{patient_id}",
        lambda w, _c: (f"/api/patients/patients/{w.patient_a}", {"name": "Ændret Navn"}, None),
        users(200, registry_admin=403, clinician_b=404)),
    Row("GET", "/api/patients/patients/{patient_id}/platform-status",
        lambda w, _c: (f"/api/patients/patients/{w.patient_a}/platform-status", None, None), users(200, clinician_b=404)),
    Row("GET", "/api/patients/patients/{patient_id}/audit",
        lambda w, _c: (f"/api/patients/patients/{w.patient_a}/audit", None, None),
        users(403, registry_admin=200)),
    # --- patients: boards ---------------------------------------------------------------------
    Row("GET", "/api/patients/departments/{department_id}/board",
        lambda w, _c: (f"/api/patients/departments/{w.dept_a}/board", None, None), users(200, clinician_b=403)),
    Row("GET", "/api/patients/departments/{department_id}/patients",
        lambda w, _c: (f"/api/patients/departments/{w.dept_a}/patients", None, None), users(200, clinician_b=403)),
    # --- patients: transfers ------------------------------------------------------------------
    Row("POST", "/api/patients/transfers",
        lambda w, _c: ("/api/patients/transfers", {"cpr": w.new_patient("clinician_a", w.dept_a)[1],
                                               "from_department_ids": [w.dept_a], "to_department_id": w.dept_b}, None),
        users(403, clinician_b=201)),
    Row("GET", "/api/patients/transfers/incoming", fixed("/api/patients/transfers/incoming"), users(200)),
    Row("GET", "/api/patients/transfers/outgoing", fixed("/api/patients/transfers/outgoing"), users(200)),
    Row("GET", "/api/patients/transfers/{transfer_id}",
        lambda w, _c: (f"/api/patients/transfers/{w.notes['transfer']}", None, None), users(200)),
    Row("POST", "/api/patients/transfers/{transfer_id}/approve",
        lambda w, _c: (f"/api/patients/transfers/{w.pending_transfer()}/approve", {}, None),
        users(200, clinician_b=403)),
    Row("POST", "/api/patients/transfers/{transfer_id}/reject",
        lambda w, _c: (f"/api/patients/transfers/{w.pending_transfer()}/reject", {"reason": "Ikke vores patient"}, None),
        users(200, clinician_b=403)),
    Row("POST", "/api/patients/transfers/{transfer_id}/cancel",
        lambda w, _c: (f"/api/patients/transfers/{w.pending_transfer()}/cancel", {}, None),
        users(403, clinician_b=200)),
    Row("GET", "/api/patients/notices", fixed("/api/patients/notices"), users(200)),
    Row("POST", "/api/patients/notices/{notice_id}/dismiss",
        lambda w, _c: (f"/api/patients/notices/{uuid.uuid4()}/dismiss", None, None), users(404)),
    # --- the patient platform -----------------------------------------------------------------
    Row("POST", "/api/patients/platform/status",
        lambda w, _c: ("/api/patients/platform/status",
                   {"cpr": w.cpr_a, "status": "active", "reported_at": datetime.now(timezone.utc).isoformat()}, None),
        same(403, platform=200)),
    # --- notifications: deliveries, for the registry's administrators only ---------------------
    Row("GET", "/api/notifications/deliveries", fixed("/api/notifications/deliveries"), users(403, registry_admin=200)),
    Row("GET", "/api/notifications/deliveries/{delivery_id}",
        lambda w, _c: (f"/api/notifications/deliveries/{w.notes['delivery']}", None, None),
        users(403, registry_admin=200)),
    Row("POST", "/api/notifications/deliveries/{delivery_id}/resend",  # a sent one: nothing to resend
        lambda w, _c: (f"/api/notifications/deliveries/{w.notes['delivery']}/resend", None, None),
        users(403, registry_admin=409)),
]

CASES = [(row, caller) for row in ROWS for caller in CALLERS]


@pytest.fixture(scope="module")
def world(stack, keycloak_realm, identity_runtime, user_directory) -> World:
    gateway = stack.url("gateway")

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def login(username: str, password: str) -> dict[str, str]:
        return bearer(keycloak_realm.user_token(username, password)["access_token"])

    admin = login("regadmin", DEMO["regadmin"].password)
    departments = {d["code"]: d for d in requests.get(f"{gateway}/api/patients/departments", headers=admin,
                                                      timeout=10).json()}
    dept_a, dept_b = departments["OUH-REU-C"], departments["AUH-LBR"]
    make = user_factory(identity_runtime, user_directory)
    hospital_a, hospital_b = uuid.UUID(dept_a["hospital"]["id"]), uuid.UUID(dept_b["hospital"]["id"])
    _, secretary = make(memberships={hospital_a: "secretary"}, departments=frozenset({uuid.UUID(dept_a["id"])}))
    _, clinician_b = make(memberships={hospital_b: "clinician"}, departments=frozenset({uuid.UUID(dept_b["id"])}))
    platform = keycloak_realm.client_token("patient-platform", keycloak_realm.secrets["DANBIO_KC_PLATFORM_SECRET"])
    headers = {
        "nobody": {},
        "registry_admin": admin,
        "local_admin_a": login("ouhadmin", DEMO["ouhadmin"].password),
        "clinician_a": login("ouhlaege", DEMO["ouhlaege"].password),
        "secretary_a": login(secretary.username, secretary.password),
        "clinician_b": login(clinician_b.username, clinician_b.password),
        "platform": bearer(platform["access_token"]),
    }
    w = World(gateway, headers, dept_a["id"], dept_b["id"], dept_a["hospital"]["id"], dept_b["hospital"]["id"])
    w.notes["user_a"], w.notes["user_b"] = w.new_user(w.hospital_a, w.dept_a), w.new_user(w.hospital_b, w.dept_b)
    w.patient_a, w.cpr_a = w.new_patient("clinician_a", w.dept_a)
    w.patient_b, w.cpr_b = w.new_patient("clinician_b", w.dept_b)
    w.notes["transfer"] = w.pending_transfer()
    w.notes["delivery"] = testing.wait_for(lambda: _a_sent_delivery(w), timeout=30,
                                           message="a sent welcome e-mail of the matrix's users")
    return w


def _a_sent_delivery(w: World) -> str | None:
    answer = w.call("registry_admin", "GET", "/api/notifications/deliveries", params={"status": "sent", "limit": 1})
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    return items[0]["id"] if items else None


def test_the_matrix_is_big_enough():
    assert len(CASES) >= 200


@pytest.mark.parametrize("row, caller", CASES, ids=[f"{r.method} {r.template} as {c}" for r, c in CASES])
def test_exact_allow_or_deny(world, row, caller):
    path, json, params = row.request(world, caller)
    answer = world.call(caller, row.method, path, json=json, params=params)
    assert answer.status_code == row.expected[caller], f"{row.method} {path} as {caller}: {answer.text[:300]}"


def test_every_endpoint_has_a_row(stack):
    document = requests.get(f"{stack.url('gateway')}/openapi.json", timeout=10).json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item
                  if method in ("get", "post", "put", "patch", "delete")}
    missing = documented - {(row.method, row.template) for row in ROWS}
    assert not missing, f"endpoints without a row in the authorisation matrix: {sorted(missing)}"
