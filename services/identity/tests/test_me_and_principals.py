"""GET /me and the gateway's GET /internal/principals/<Keycloak subject>."""
import uuid

import pytest

from identity.domain.users import NewUser
from identity.service.users import record_new_user
from servicekit.principal import Principal


@pytest.fixture
def identity_env(new_database, principal_keys):
    """Without Keycloak settings: profiles and principals come from identity's own data only."""
    return {"IDENTITY_DATABASE_URL": new_database("identity"), "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1],
            "DANBIO_KEYCLOAK_URL": "http://127.0.0.1:1"}


@pytest.fixture
def local_admin(runtime, org):
    """A local administrator of OUH with access to both its departments, tied to an invented Keycloak id."""
    keycloak_id = str(uuid.uuid4())
    user = NewUser(username="Lotte.Lokal", first_name="Lotte", last_name="Lokal", email="lotte.lokal@example.org",
                   memberships={org.OUH: "local_admin", org.HGH: "clinician"},
                   departments=frozenset({org.OUH_REU_C, org.OUH_MED, org.HGH_REU})).validated()
    with runtime.uow() as uow:
        user_id = record_new_user(uow, user, keycloak_id)
        uow.commit()
    return Principal(subject=str(user_id), kind="user", username=user.username), keycloak_id


def test_me_is_the_callers_profile(app, signed, local_admin, org):
    principal, _ = local_admin
    response = app.test_client().get("/me", headers=signed(principal))
    assert response.status_code == 200, response.json
    me = response.json
    assert {k: me[k] for k in ("id", "username", "first_name", "last_name", "email", "phone", "locale",
                               "registry_admin", "last_login_at", "roles")} == {
        "id": principal.subject, "username": "lotte.lokal", "first_name": "Lotte", "last_name": "Lokal",
        "email": "lotte.lokal@example.org", "phone": None, "locale": "da", "registry_admin": False,
        "last_login_at": None, "roles": ["local_admin", "clinician"]}
    assert me["created_at"]
    assert me["memberships"] == [
        {"hospital": {"id": str(org.HGH), "code": "HGH", "name": "Herlev og Gentofte Hospital"}, "role": "clinician",
         "departments": [{"id": str(org.HGH_REU), "code": "HGH-REU", "name": "Reumatologisk Afdeling",
                          "active": True}]},
        {"hospital": {"id": str(org.OUH), "code": "OUH", "name": "Odense Universitetshospital"},
         "role": "local_admin",
         "departments": [{"id": str(org.OUH_MED), "code": "OUH-MED", "name": "Medicinsk Afdeling", "active": True},
                         {"id": str(org.OUH_REU_C), "code": "OUH-REU-C", "name": "Reumatologisk Afdeling C",
                          "active": True}]},
    ]


def test_a_reported_login_becomes_the_last_login(app, signed, as_gateway, local_admin):
    principal, _ = local_admin
    client = app.test_client()
    assert client.post("/me/logins", headers=signed(principal)).status_code == 204
    last = client.get("/me", headers=signed(principal)).json["last_login_at"]
    assert last is not None
    assert client.post("/me/logins", headers=as_gateway).status_code == 403  # machines do not log in


def test_me_refuses_machines_strangers_and_direct_calls(app, signed, as_gateway):
    client = app.test_client()
    assert client.get("/me", headers=as_gateway).status_code == 403
    stranger = Principal(subject=str(uuid.uuid4()), kind="user", username="fremmed")
    unknown = client.get("/me", headers=signed(stranger))
    assert (unknown.status_code, unknown.mimetype) == (404, "application/problem+json")
    assert client.get("/me").status_code == 401


def test_gateway_resolves_the_principal_of_a_keycloak_subject(app, as_gateway, local_admin, org):
    principal, keycloak_id = local_admin
    response = app.test_client().get(f"/internal/principals/{keycloak_id}", headers=as_gateway)
    assert response.status_code == 200, response.json
    resolved = Principal.from_dict(response.json)
    assert response.json == resolved.to_dict()
    assert (resolved.subject, resolved.kind, resolved.username, resolved.registry_admin) == (
        principal.subject, "user", "lotte.lokal", False)
    assert {(m.hospital_id, m.role, m.departments) for m in resolved.memberships} == {
        (org.OUH, "local_admin", frozenset({org.OUH_REU_C, org.OUH_MED})),
        (org.HGH, "clinician", frozenset({org.HGH_REU}))}
    assert resolved.administers(org.OUH) and not resolved.administers(org.HGH)


def test_only_the_gateway_may_resolve_principals(app, signed, local_admin):
    principal, keycloak_id = local_admin
    client = app.test_client()
    as_user = client.get(f"/internal/principals/{keycloak_id}", headers=signed(principal))
    assert (as_user.status_code, as_user.json["detail"]) == (403, "Only the gateway may resolve principals.")
    platform = Principal(subject="patient-platform", kind="client", username="patient-platform",
                         client_roles=frozenset({"patient_platform"}))
    assert client.get(f"/internal/principals/{keycloak_id}", headers=signed(platform)).status_code == 403
    assert client.get(f"/internal/principals/{keycloak_id}").status_code == 401


def test_unknown_subject_is_a_404_problem(app, as_gateway):
    # No machine clients configured: nothing to ask Keycloak (tests/e2e/test_machine_client.py asks it).
    app.extensions["identity.machine_clients"].roles_by_client = {}
    response = app.test_client().get(f"/internal/principals/{uuid.uuid4()}", headers=as_gateway)
    assert (response.status_code, response.mimetype) == (404, "application/problem+json")
    assert response.json["detail"] == "No user is tied to this Keycloak subject."


def test_an_unknown_subject_cannot_be_told_from_a_machine_client_without_keycloak(app, as_gateway):
    """Keycloak (here: not configured) decides whether a subject is a machine client: 503, not 404."""
    response = app.test_client().get(f"/internal/principals/{uuid.uuid4()}", headers=as_gateway)
    assert response.status_code == 503
