"""A1 "Opret bruger": Keycloak user without a password, identity's rows, a 72-hour activation token
and identity.user.created with the token sealed — all or nothing; field errors with codes."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from identity.adapters.keycloak_directory import KeycloakUserDirectory
from identity.adapters.tables import (admin_audit, department_access, hospital_memberships, messaging,
                                      set_password_tokens, users)
from identity.app import create_app
from identity.service.set_password_tokens import digest
from servicekit import contracts
from servicekit.sealed import Sealer

from services.identity.tests.user_admin_support import admin_app, admin_runtime, client, outbox, people  # noqa: F401


def form(org, **changes):
    name = f"ny-{uuid.uuid4().hex[:8]}"
    values = {"username": name, "first_name": "Ny", "last_name": "Bruger", "email": f"{name}@example.org",
              "phone": None, "role": "clinician", "departments": [str(org.OUH_REU_C)]}
    values.update(changes)
    return values


def count(runtime, table) -> int:
    with runtime.db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_create_makes_keycloak_user_rows_token_event_and_audit(client, people, signed, org, admin_runtime,
                                                               keycloak_admin, sealing_key):
    typed = form(org, username="Ny.Bruger-" + uuid.uuid4().hex[:6], phone="0045 12 34 56 78",
                 departments=[str(org.OUH_REU_C), str(org.OUH_MED)])
    response = client.post(f"/admin/hospitals/{org.OUH}/users", json=typed, headers=signed(people.admin_a.principal))
    assert response.status_code == 201, response.json
    created = response.json
    assert created["username"] == typed["username"].lower()
    assert (created["role"], created["phone_present"], created["never_logged_in"]) == ("clinician", True, True)
    assert {d["name"] for d in created["departments"]} == {"Reumatologisk Afdeling C", "Medicinsk Afdeling"}
    assert created["hospitals"] == [{"id": str(org.OUH), "name": "Odense Universitetshospital", "role": "clinician"}]
    [audit] = created["audit"]
    assert (audit["action"], audit["actor"], audit["hospital_name"], audit["before"]) == (
        "created", "Anne Admin", "Odense Universitetshospital", {})
    assert audit["after"]["role"] == "clinician" and len(audit["after"]["departments"]) == 2

    with admin_runtime.db.engine.connect() as connection:
        user = connection.execute(select(users).where(users.c.id == uuid.UUID(created["id"]))).one()
        token_row = connection.execute(select(set_password_tokens)
                                       .where(set_password_tokens.c.user_id == user.id)).one()
    assert user.phone == "+4512345678"
    # Keycloak: the user exists, enabled, and has no password (the welcome link sets the first one).
    assert keycloak_admin.get_user(user.keycloak_id)["username"] == user.username
    assert keycloak_admin.get_credentials(user.keycloak_id) == []
    assert token_row.purpose == "activation"
    assert abs(token_row.expires_at - token_row.created_at - timedelta(hours=72)) < timedelta(seconds=1)

    [event] = outbox(admin_runtime, "identity.user.created")
    data = contracts.validate(event["type"], event["version"], event["data"])
    token = Sealer(sealing_key).open(data["set_password_token"])
    assert digest(token) == token_row.token_hash, "the sealed token is the one whose hash is stored"
    assert token not in str(event), "the token travels sealed only"
    assert data["user"] == {"user_id": created["id"], "name": "Ny Bruger", "email": typed["email"],
                            "phone": "+4512345678", "locale": "da"}
    assert data["hospital"] == {"id": str(org.OUH), "name": "Odense Universitetshospital"}
    assert data["created_by"] == "Anne Admin"
    [changed] = [e for e in outbox(admin_runtime, "identity.user.access_changed") if e["data"]["user_id"] == created["id"]]
    assert changed["data"]["reason"] == "created"


@pytest.mark.parametrize("changes, field, code", [
    ({"email": "ikke-en-adresse"}, "email", "invalid_email"),
    ({"phone": "12 34"}, "phone", "invalid_phone"),
    ({"phone": "+45 1234 5678 9"}, "phone", "invalid_phone"),
    ({"departments": []}, "departments", "no_department"),
    ({"role": "chef"}, "role", "invalid_role"),
    ({"username": "x"}, "username", "invalid_username"),
    ({"username": "med mellemrum"}, "username", "invalid_username"),
    ({"first_name": "  "}, "first_name", "required"),
    ({"last_name": "x" * 101}, "last_name", "too_long"),
], ids=["email", "phone-short", "phone-danish-too-long", "no-department", "role", "username-short",
        "username-space", "first-name", "last-name-long"])
def test_field_errors_carry_codes_and_keep_nothing(client, people, signed, org, admin_runtime, changes, field, code):
    before = count(admin_runtime, users)
    response = client.post(f"/admin/hospitals/{org.OUH}/users", json=form(org, **changes),
                           headers=signed(people.admin_a.principal))
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert response.json["codes"][field] == code and response.json["errors"][field]
    assert count(admin_runtime, users) == before


def test_every_bad_field_is_reported_at_once(client, people, signed, org):
    response = client.post(f"/admin/hospitals/{org.OUH}/users", headers=signed(people.admin_a.principal),
                           json={"username": "", "email": "x@", "phone": "abc", "role": "", "departments": []})
    assert response.status_code == 422
    assert response.json["codes"] == {"username": "required", "first_name": "required", "last_name": "required",
                                      "email": "invalid_email", "phone": "invalid_phone", "role": "required",
                                      "departments": "no_department"}


def test_department_of_another_hospital_is_refused(client, people, signed, org, keycloak_admin):
    typed = form(org, departments=[str(org.OUH_REU_C), str(org.HGH_REU)])
    response = client.post(f"/admin/hospitals/{org.OUH}/users", json=typed, headers=signed(people.admin_a.principal))
    assert (response.status_code, response.json["codes"]) == (422, {"departments": "unknown_department"})
    assert keycloak_admin.get_user_id(typed["username"]) is None


@pytest.mark.parametrize("phone", ["12345678", "12 34 56 78", "+45 12 34 56 78", "0045 1234 5678", "+4512345678"])
def test_danish_phone_numbers_as_typed_are_stored_in_e164(client, people, signed, org, phone):
    response = client.post(f"/admin/hospitals/{org.OUH}/users", json=form(org, phone=phone),
                           headers=signed(people.admin_a.principal))
    assert response.status_code == 201, response.json
    assert response.json["phone_present"] is True
    [event] = [e for e in outbox(client.application.extensions["danbio.runtime"], "identity.user.created")
               if e["data"]["user"]["user_id"] == response.json["id"]]
    assert event["data"]["user"]["phone"] == "+4512345678"


def test_username_taken_in_identity_or_only_in_keycloak(client, people, signed, org, keycloak_realm):
    taken = client.post(f"/admin/hospitals/{org.OUH}/users", json=form(org, username=people.user_a.username.upper()),
                        headers=signed(people.admin_a.principal))
    assert (taken.status_code, taken.json["codes"]) == (409, {"username": "username_taken"})

    only_in_keycloak = keycloak_realm.create_user()
    refused = client.post(f"/admin/hospitals/{org.OUH}/users", json=form(org, username=only_in_keycloak.username),
                          headers=signed(people.admin_a.principal))
    assert (refused.status_code, refused.json["codes"]) == (409, {"username": "username_taken"})

    same_mail = client.post(f"/admin/hospitals/{org.OUH}/users", json=form(org, email=people.user_b.username + "@EXAMPLE.org"),
                            headers=signed(people.admin_a.principal))
    assert (same_mail.status_code, same_mail.json["codes"]) == (409, {"email": "email_taken"})


def test_keycloak_down_is_503_and_nothing_is_kept(identity_env, sealing_key, people, signed, org, admin_runtime):
    before = {table.name: count(admin_runtime, table)
              for table in (users, hospital_memberships, department_access, set_password_tokens, admin_audit,
                            messaging.outbox)}
    down = create_app({**identity_env, "DANBIO_SEALING_KEY": sealing_key, "DANBIO_KEYCLOAK_URL": "http://127.0.0.1:1"})
    try:
        response = down.test_client().post(f"/admin/hospitals/{org.OUH}/users", json=form(org),
                                           headers=signed(people.admin_a.principal))
    finally:
        down.extensions["danbio.runtime"].db.dispose()
    assert response.status_code == 503, response.json
    assert "nothing was changed" in response.json["detail"]
    assert {table: count(admin_runtime, t) for table, t in
            zip(before, (users, hospital_memberships, department_access, set_password_tokens, admin_audit,
                         messaging.outbox))} == before


class CompetingAdministrator(KeycloakUserDirectory):
    """Keycloak as it is — but right after Keycloak created the user, another administrator's
    transaction commits the same username in identity, so identity's own commit fails."""

    def __init__(self, settings, runtime, org):
        super().__init__(settings)
        self.runtime, self.org, self.created = runtime, org, []

    def create_user(self, **kwargs) -> str:
        keycloak_id = super().create_user(**kwargs)
        self.created.append(keycloak_id)
        with self.runtime.db.engine.begin() as connection:
            user_id = uuid.uuid4()
            connection.execute(users.insert().values(
                id=user_id, keycloak_id=f"other-{uuid.uuid4()}", username=kwargs["username"], first_name="Anden",
                last_name="Admin", email=f"anden-{uuid.uuid4().hex[:6]}@example.org", locale="da",
                registry_admin=False, created_at=datetime.now(timezone.utc)))
        return keycloak_id


def test_local_commit_failing_after_keycloak_deletes_the_keycloak_user(admin_app, admin_runtime, people, signed, org,
                                                                       keycloak_admin):
    directory = CompetingAdministrator(admin_runtime.settings, admin_runtime, org)
    admin_app.extensions["identity.directory"] = directory
    typed = form(org)
    response = admin_app.test_client().post(f"/admin/hospitals/{org.OUH}/users", json=typed,
                                            headers=signed(people.admin_a.principal))
    assert (response.status_code, response.json["codes"]) == (409, {"username": "username_taken"})
    [keycloak_id] = directory.created
    assert keycloak_admin.get_user_id(typed["username"]) is None, "no orphan left in Keycloak"
    assert not any(e["data"].get("subject") == keycloak_id for e in outbox(admin_runtime))
    assert not [e for e in outbox(admin_runtime, "identity.user.created") if e["data"]["username"] == typed["username"]]


def test_without_a_sealing_key_create_is_503_before_keycloak(identity_env, people, signed, org, keycloak_admin):
    app = create_app(identity_env)
    try:
        typed = form(org)
        response = app.test_client().post(f"/admin/hospitals/{org.OUH}/users", json=typed,
                                          headers=signed(people.admin_a.principal))
    finally:
        app.extensions["danbio.runtime"].db.dispose()
    assert response.status_code == 503
    assert keycloak_admin.get_user_id(typed["username"]) is None
