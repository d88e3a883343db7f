"""PUT /me: the caller changes their own names, e-mail and phone (B1), kept in step in Keycloak."""
import json
import uuid

import pytest
from sqlalchemy import select

from identity.domain.users import NewUser
from identity.service.users import provision_user
from servicekit.principal import Principal


@pytest.fixture
def make_user(runtime, directory):
    def make(phone=None):
        username = f"profil-{uuid.uuid4().hex[:10]}"
        with runtime.uow() as uow:
            user_id = provision_user(uow, directory, NewUser(
                username=username, first_name="Per", last_name="Profil", email=f"{username}@example.org",
                phone=phone), password="Gammel-kode-2026!")
        return Principal(subject=str(user_id), kind="user", username=username), username
    return make


def events(runtime, event_type):
    outbox = runtime.messaging.outbox
    with runtime.uow() as uow:
        bodies = uow.session.execute(select(outbox.c.body).where(outbox.c.event_type == event_type)).scalars().all()
    return [json.loads(body)["data"] for body in bodies]


@pytest.mark.parametrize("typed", ["87 65 43 21", "+45 87654321", "004587654321"])
def test_the_phone_is_stored_as_e164_and_the_previous_phone_is_told(app, runtime, signed, make_user, typed):
    caller, username = make_user(phone="+4512345678")
    response = app.test_client().put("/me", headers=signed(caller), json={
        "first_name": "Per", "last_name": "Profil", "email": f"{username}@example.org", "phone": typed})
    assert response.status_code == 200, response.json
    assert response.json["phone"] == "+4587654321"
    [changed] = events(runtime, "identity.user.contact_changed")
    assert changed["changed"] == ["phone"] and changed["previous_phone"] == "+4512345678"
    assert changed["user"]["phone"] == "+4587654321"


def test_names_and_email_reach_keycloak_and_nothing_is_told_when_only_names_change(app, runtime, signed, make_user,
                                                                                     keycloak_realm):
    caller, username = make_user()
    client = app.test_client()
    response = client.put("/me", headers=signed(caller), json={
        "first_name": "Pernille", "last_name": "Ørsted", "email": f"{username}@example.org", "phone": ""})
    assert response.status_code == 200 and response.json["first_name"] == "Pernille"
    assert events(runtime, "identity.user.contact_changed") == []
    response = client.put("/me", headers=signed(caller), json={
        "first_name": "Pernille", "last_name": "Ørsted", "email": f"ny-{username}@example.org", "phone": "+46 70 123 45 67"})
    assert response.status_code == 200, response.json
    kc = keycloak_realm.admin.get_user(keycloak_realm.admin.get_user_id(username))
    assert (kc["firstName"], kc["lastName"], kc["email"]) == ("Pernille", "Ørsted", f"ny-{username}@example.org")
    [changed] = events(runtime, "identity.user.contact_changed")
    assert changed["changed"] == ["phone", "email"] and changed["previous_email"] == f"{username}@example.org"
    assert changed["user"]["phone"] == "+46701234567" and changed["previous_phone"] is None


def test_invalid_fields_and_a_taken_email_are_refused_with_codes(app, runtime, signed, make_user):
    caller, username = make_user()
    _, other = make_user()
    client = app.test_client()
    bad = client.put("/me", headers=signed(caller), json={"first_name": " ", "last_name": "x" * 101,
                                                          "email": "ikke-en-adresse", "phone": "12 34"})
    assert bad.status_code == 422
    assert bad.json["codes"] == {"first_name": "required", "last_name": "too_long", "email": "invalid_email",
                                 "phone": "invalid_phone"}
    taken = client.put("/me", headers=signed(caller), json={"first_name": "Per", "last_name": "Profil",
                                                            "email": f"{other}@example.org", "phone": None})
    assert taken.status_code == 409 and taken.json["codes"] == {"email": "email_taken"}
    me = client.get("/me", headers=signed(caller)).json
    assert me["email"] == f"{username}@example.org"  # nothing was saved
    assert events(runtime, "identity.user.contact_changed") == []
