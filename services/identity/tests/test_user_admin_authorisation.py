"""Who may do what (issue 5): a local administrator acts on their own hospital only, a registry
administrator on all, everyone else on none; another hospital's users look unknown (404)."""
import uuid

import pytest

from servicekit.principal import Principal

from services.identity.tests.user_admin_support import admin_app, admin_runtime, client, people  # noqa: F401


def requests_on(org, hospital, user):
    """(method, path, body) of every administrator action on ``user`` from ``hospital``."""
    base = f"/admin/hospitals/{hospital}"
    department = str(org.OUH_MED if hospital == org.OUH else org.HGH_REU)
    return {
        "detail": ("GET", f"{base}/users/{user}", None),
        "access": ("PUT", f"{base}/users/{user}/access", {"role": "clinician", "departments": [department]}),
        "unlock": ("POST", f"{base}/users/{user}/unlock", {}),
    }


def hospital_requests(org, hospital):
    base = f"/admin/hospitals/{hospital}"
    department = str(org.OUH_MED if hospital == org.OUH else org.HGH_REU)
    return {
        "list": ("GET", f"{base}/users", None),
        "create": ("POST", f"{base}/users", {"username": f"m-{uuid.uuid4().hex[:8]}", "first_name": "M",
                                            "last_name": "N", "email": f"m-{uuid.uuid4().hex[:8]}@example.org",
                                            "role": "clinician", "departments": [department]}),
        "reviews": ("GET", f"{base}/reviews", None),
        "document_review": ("POST", f"{base}/reviews", {}),
        "blocked": ("GET", f"{base}/blocked-users", None),
    }


def call(client, headers, method, path, body):
    return client.open(path, method=method, json=body, headers=headers)


def test_local_admin_of_a_on_hospital_a_and_b(client, people, signed, org):
    headers = signed(people.admin_a.principal)
    for name, request in hospital_requests(org, org.OUH).items():
        assert call(client, headers, *request).status_code in (200, 201), name
    for name, request in hospital_requests(org, org.HGH).items():
        response = call(client, headers, *request)
        assert response.status_code == 403, (name, response.json)


@pytest.mark.parametrize("action", ["detail", "access", "unlock"])
def test_local_admin_of_a_on_users_of_a_b_and_shared(client, people, signed, org, action, keycloak_realm):
    headers = signed(people.admin_a.principal)
    # A user of A: allowed (unlock needs a real Keycloak user: covered in test_user_admin_unlock).
    if action != "unlock":
        assert call(client, headers, *requests_on(org, org.OUH, people.user_a.id)[action]).status_code == 200
    # A user of B only, asked about as if at A: the same answer as an unknown id.
    not_here = call(client, headers, *requests_on(org, org.OUH, people.user_b.id)[action])
    unknown = call(client, headers, *requests_on(org, org.OUH, uuid.uuid4())[action])
    assert not_here.status_code == unknown.status_code == 404
    assert not_here.json["detail"] == unknown.json["detail"]
    # Any user at B: not A's administrator's hospital.
    for user in (people.user_b.id, people.shared.id):
        assert call(client, headers, *requests_on(org, org.HGH, user)[action]).status_code == 403


def test_local_admin_of_a_edits_a_shared_user_only_at_a(client, people, signed, org, admin_runtime):
    from identity.adapters import user_repository

    response = client.put(f"/admin/hospitals/{org.OUH}/users/{people.shared.id}/access",
                          json={"role": "secretary", "departments": [str(org.OUH_MED)]},
                          headers=signed(people.admin_a.principal))
    assert response.status_code == 200, response.json
    with admin_runtime.uow() as uow:
        assert user_repository.memberships_of(uow.session, people.shared.id) == {org.OUH: "secretary",
                                                                                 org.HGH: "clinician"}
        assert user_repository.departments_of(uow.session, people.shared.id) == {org.OUH_MED, org.HGH_REU}
    assert {h["name"]: h["role"] for h in response.json["hospitals"]} == {
        "Odense Universitetshospital": "secretary", "Herlev og Gentofte Hospital": "clinician"}


@pytest.mark.parametrize("who", ["clinician_a", "user_a", "nobody", "machine"])
def test_non_administrators_get_403_everywhere(client, people, signed, org, who):
    principal = {
        "clinician_a": people.clinician_a.principal, "user_a": people.user_a.principal,
        "nobody": Principal(subject=str(uuid.uuid4()), kind="user", username="ingen"),
        "machine": Principal(subject="gateway", kind="client", username="gateway", client_roles=frozenset({"gateway"})),
    }[who]
    headers = signed(principal)
    requests = [("GET", "/admin/hospitals", None), ("GET", "/admin/users/search?q=bruger", None),
                ("POST", f"/admin/hospitals/{org.OUH}/users/{people.user_b.id}/membership",
                 {"role": "clinician", "departments": [str(org.OUH_MED)]})]
    requests += list(hospital_requests(org, org.OUH).values())
    requests += list(requests_on(org, org.OUH, people.user_a.id).values())
    for request in requests:
        response = call(client, headers, *request)
        assert response.status_code == 403, (request[:2], response.status_code)


def test_without_the_gateway_nothing_answers(client, org):
    assert client.get("/admin/hospitals").status_code == 401
    assert client.get(f"/admin/hospitals/{org.OUH}/users").status_code == 401


def test_registry_admin_acts_on_every_hospital(client, people, signed, org):
    headers = signed(people.registry.principal)
    hospitals = client.get("/admin/hospitals", headers=headers).json
    assert {h["id"] for h in hospitals} == {str(org.OUH), str(org.HGH)}
    for hospital in (org.OUH, org.HGH):
        for name, request in hospital_requests(org, hospital).items():
            assert call(client, headers, *request).status_code in (200, 201), (hospital, name)
    assert call(client, headers, *requests_on(org, org.HGH, people.user_b.id)["detail"]).status_code == 200
    assert call(client, headers, *requests_on(org, org.HGH, people.shared.id)["access"]).status_code == 200


def test_local_admin_sees_only_own_hospitals(client, people, signed, org):
    hospitals = client.get("/admin/hospitals", headers=signed(people.admin_a.principal)).json
    assert [h["name"] for h in hospitals] == ["Odense Universitetshospital"]
    assert {d["code"] for d in hospitals[0]["departments"]} == {"OUH-REU-C", "OUH-MED"}


def test_search_is_for_every_administrator_and_adding_keeps_other_hospitals(client, people, signed, org,
                                                                            admin_runtime):
    from identity.adapters import user_repository

    found = client.get(f"/admin/users/search?q={people.user_b.username}", headers=signed(people.admin_a.principal))
    assert found.status_code == 200
    [hit] = found.json["items"]
    assert set(hit) == {"id", "username", "first_name", "last_name", "email", "hospitals"}
    assert hit["hospitals"] == [{"id": str(org.HGH), "name": "Herlev og Gentofte Hospital"}]

    added = client.post(f"/admin/hospitals/{org.OUH}/users/{people.user_b.id}/membership",
                        json={"role": "clinician", "departments": [str(org.OUH_REU_C)]},
                        headers=signed(people.admin_a.principal))
    assert added.status_code == 201, added.json
    with admin_runtime.uow() as uow:
        assert user_repository.memberships_of(uow.session, people.user_b.id) == {org.HGH: "clinician",
                                                                                 org.OUH: "clinician"}
        assert user_repository.departments_of(uow.session, people.user_b.id) == {org.HGH_REU, org.OUH_REU_C}
    # A's administrator may not add anyone to B.
    refused = client.post(f"/admin/hospitals/{org.HGH}/users/{people.user_a.id}/membership",
                          json={"role": "clinician", "departments": [str(org.HGH_REU)]},
                          headers=signed(people.admin_a.principal))
    assert refused.status_code == 403
