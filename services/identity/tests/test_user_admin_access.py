"""A5 "Rediger bruger" → "Gem ændringer" and A2 "Tilføj bruger til eget hospital": only this
hospital's access changes, each change is announced and audited, and the audit is append-only."""
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from identity.adapters import user_repository
from servicekit import contracts

from services.identity.tests.user_admin_support import admin_app, admin_runtime, client, outbox, people  # noqa: F401


def put_access(client, headers, hospital, user, role, departments):
    return client.put(f"/admin/hospitals/{hospital}/users/{user}/access", headers=headers,
                      json={"role": role, "departments": [str(d) for d in departments]})


def test_change_role_and_departments_is_announced_audited_and_mailed(client, people, signed, org, admin_runtime):
    headers = signed(people.admin_a.principal)
    response = put_access(client, headers, org.OUH, people.user_a.id, "clinician", [org.OUH_REU_C])
    assert response.status_code == 200, response.json
    assert (response.json["role"], [d["name"] for d in response.json["departments"]]) == (
        "clinician", ["Reumatologisk Afdeling C"])
    [entry] = [a for a in response.json["audit"] if a["action"] == "access_changed"]
    assert entry["actor"] == "Anne Admin" and entry["hospital_name"] == "Odense Universitetshospital"
    assert entry["before"] == {"role": "secretary", "departments": [{"id": str(org.OUH_MED), "name": "Medicinsk Afdeling"}]}
    assert entry["after"] == {"role": "clinician",
                              "departments": [{"id": str(org.OUH_REU_C), "name": "Reumatologisk Afdeling C"}]}

    [changed] = [e for e in outbox(admin_runtime, "identity.user.access_changed")
                 if e["data"]["user_id"] == str(people.user_a.id) and e["data"]["reason"] == "access_changed"]
    assert changed["data"]["subject"] == people.user_a.keycloak_id
    [removed] = outbox(admin_runtime, "identity.user.access_removed")
    data = contracts.validate(removed["type"], 1, removed["data"])
    assert [d["name"] for d in data["departments"]] == ["Medicinsk Afdeling"]


def test_saving_without_a_change_records_nothing(client, people, signed, org, admin_runtime):
    before = len(outbox(admin_runtime))
    response = put_access(client, signed(people.admin_a.principal), org.OUH, people.user_a.id, "secretary", [org.OUH_MED])
    assert response.status_code == 200
    assert len(outbox(admin_runtime)) == before
    assert not [a for a in response.json["audit"] if a["action"] == "access_changed"]


def test_no_departments_removes_the_user_from_this_hospital_only(client, people, signed, org, admin_runtime):
    response = put_access(client, signed(people.admin_a.principal), org.OUH, people.shared.id, "clinician", [])
    assert response.status_code == 200, response.json
    assert response.json["role"] is None and response.json["departments"] == []
    assert response.json["hospitals"] == [{"id": str(org.HGH), "name": "Herlev og Gentofte Hospital", "role": "clinician"}]
    with admin_runtime.uow() as uow:
        assert user_repository.memberships_of(uow.session, people.shared.id) == {org.HGH: "clinician"}
        assert user_repository.departments_of(uow.session, people.shared.id) == {org.HGH_REU}
    # Gone from A: A's administrator no longer sees the user.
    assert client.get(f"/admin/hospitals/{org.OUH}/users/{people.shared.id}",
                      headers=signed(people.admin_a.principal)).status_code == 404


@pytest.mark.parametrize("body, field, code", [
    ({"role": "chef", "departments": []}, "role", "invalid_role"),
    ({"role": None, "departments": []}, "role", "required"),
])
def test_bad_access_fields(client, people, signed, org, body, field, code):
    response = client.put(f"/admin/hospitals/{org.OUH}/users/{people.user_a.id}/access", json=body,
                          headers=signed(people.admin_a.principal))
    assert (response.status_code, response.json["codes"]) == (422, {field: code})


def test_a_department_of_another_hospital_cannot_be_given(client, people, signed, org):
    response = put_access(client, signed(people.admin_a.principal), org.OUH, people.user_a.id, "clinician", [org.HGH_REU])
    assert (response.status_code, response.json["codes"]) == (422, {"departments": "unknown_department"})


def test_add_existing_user_to_own_hospital(client, people, signed, org, admin_runtime):
    headers = signed(people.admin_a.principal)
    added = client.post(f"/admin/hospitals/{org.OUH}/users/{people.user_b.id}/membership", headers=headers,
                        json={"role": "secretary", "departments": [str(org.OUH_MED)]})
    assert added.status_code == 201, added.json
    assert added.json["role"] == "secretary"
    assert [a["action"] for a in added.json["audit"]] == ["added_to_hospital"]
    [event] = [e for e in outbox(admin_runtime, "identity.user.added_to_hospital")]
    data = contracts.validate(event["type"], 1, event["data"])
    assert (data["hospital"]["name"], data["added_by"]) == ("Odense Universitetshospital", "Anne Admin")
    assert [e["data"]["reason"] for e in outbox(admin_runtime, "identity.user.access_changed")
            if e["data"]["user_id"] == str(people.user_b.id)][-1] == "added_to_hospital"

    again = client.post(f"/admin/hospitals/{org.OUH}/users/{people.user_b.id}/membership", headers=headers,
                        json={"role": "secretary", "departments": [str(org.OUH_MED)]})
    assert (again.status_code, again.json["codes"]) == (409, {"user": "already_member"})
    no_department = client.post(f"/admin/hospitals/{org.OUH}/users/{people.shared.id}/membership", headers=headers,
                                json={"role": "secretary", "departments": []})
    assert (no_department.status_code, no_department.json["codes"]) == (422, {"departments": "no_department"})
    unknown = client.post(f"/admin/hospitals/{org.OUH}/users/{uuid.uuid4()}/membership", headers=headers,
                          json={"role": "secretary", "departments": [str(org.OUH_MED)]})
    assert unknown.status_code == 404


def test_the_audit_is_append_only(client, people, signed, org, admin_runtime):
    put_access(client, signed(people.admin_a.principal), org.OUH, people.user_a.id, "clinician", [org.OUH_MED])
    for statement in ("UPDATE admin_audit SET actor_name = 'someone else'", "DELETE FROM admin_audit",
                      "TRUNCATE admin_audit"):
        with admin_runtime.db.engine.connect() as connection, pytest.raises(DBAPIError) as refused:
            connection.execute(text(statement))
        assert "append-only" in str(refused.value)
    with admin_runtime.db.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM admin_audit")).scalar_one() == 1


def test_a_committed_change_is_not_reported_as_a_failure_when_keycloak_is_down(identity_env, sealing_key, people,
                                                                               signed, org, admin_runtime):
    from identity.app import create_app

    down = create_app({**identity_env, "DANBIO_SEALING_KEY": sealing_key, "DANBIO_KEYCLOAK_URL": "http://127.0.0.1:1"})
    try:
        client = down.test_client()
        headers = signed(people.admin_a.principal)
        changed = put_access(client, headers, org.OUH, people.user_a.id, "clinician", [org.OUH_MED])
        # Reading needs Keycloak (lock state, MitID links): 503, and it says so.
        listed = client.get(f"/admin/hospitals/{org.OUH}/users", headers=headers)
    finally:
        down.extensions["danbio.runtime"].db.dispose()
    assert changed.status_code == 200, changed.json
    assert (changed.json["role"], changed.json["blocked"], changed.json["mitid_linked"]) == ("clinician", False, False)
    with admin_runtime.uow() as uow:
        assert user_repository.memberships_of(uow.session, people.user_a.id)[org.OUH] == "clinician"
    assert listed.status_code == 503
