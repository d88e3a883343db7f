"""An administrator adds a phone number to a user (the page asks for one when the welcome e-mail
failed): stored E.164, the owner told (identity.user.contact_changed), audited with the number masked."""
from servicekit import contracts

from identity.adapters import user_repository
from identity.domain.phone import masked_phone

from services.identity.tests.user_admin_support import admin_app, admin_runtime, client, outbox, people  # noqa: F401


def put_phone(client, headers, hospital, user, phone):
    return client.put(f"/admin/hospitals/{hospital}/users/{user}/phone", headers=headers, json={"phone": phone})


def test_the_administrator_adds_a_phone_number(client, people, signed, org, admin_runtime):
    response = put_phone(client, signed(people.admin_a.principal), org.OUH, people.user_a.id, "20 12 34 56")
    assert response.status_code == 200, response.json
    assert response.json["phone_present"] is True
    with admin_runtime.uow() as uow:
        assert user_repository.get(uow.session, people.user_a.id).phone == "+4520123456"
    [entry] = [a for a in response.json["audit"] if a["action"] == "phone_changed"]
    assert (entry["before"], entry["after"]) == ({"phone": None}, {"phone": "+45••••••56"})
    [event] = outbox(admin_runtime, "identity.user.contact_changed")
    data = contracts.validate(event["type"], 1, event["data"])
    assert data["changed"] == ["phone"] and data["user"]["phone"] == "+4520123456" and data["previous_phone"] is None
    # The same number again changes nothing and tells nobody.
    put_phone(client, signed(people.admin_a.principal), org.OUH, people.user_a.id, "+45 20123456")
    assert len(outbox(admin_runtime, "identity.user.contact_changed")) == 1


def test_a_bad_number_is_refused_with_its_code_and_changes_nothing(client, people, signed, org, admin_runtime):
    response = put_phone(client, signed(people.admin_a.principal), org.OUH, people.user_a.id, "12 34")
    assert (response.status_code, response.json["codes"]) == (422, {"phone": "invalid_phone"})
    with admin_runtime.uow() as uow:
        assert user_repository.get(uow.session, people.user_a.id).phone is None


def test_only_this_hospitals_administrators(client, people, signed, org):
    # The local administrator of another hospital, through their own hospital: not their user.
    assert put_phone(client, signed(people.admin_b.principal), org.HGH, people.user_a.id, "20123456").status_code == 404
    # Through a hospital they do not administer.
    assert put_phone(client, signed(people.admin_b.principal), org.OUH, people.user_a.id, "20123456").status_code == 403
    assert put_phone(client, signed(people.user_a.principal), org.OUH, people.user_a.id, "20123456").status_code == 403


def test_masked_numbers_keep_country_and_last_two_digits():
    assert masked_phone("+4520123456") == "+45••••••56"
    assert masked_phone("+46701234567") == "+46•••••••67"
    assert masked_phone(None) is None
