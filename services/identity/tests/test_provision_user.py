"""Creating a user: Keycloak and identity in step, and a failure keeps nothing anywhere."""
import json
import uuid

import pytest
from sqlalchemy import func, select

from identity.adapters import user_repository
from identity.adapters.keycloak_directory import KeycloakUserDirectory
from identity.adapters.tables import department_access, hospital_memberships, messaging, users
from identity.domain.users import NewUser
from identity.runtime import build_runtime
from identity.service.users import provision_user
from servicekit import contracts
from servicekit.errors import Conflict, DependencyUnavailable, InvalidInput


def count(runtime, table) -> int:
    with runtime.db.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def nothing_kept(runtime) -> bool:
    return all(count(runtime, table) == 0 for table in (users, hospital_memberships, department_access,
                                                        messaging.outbox))


def clinician(org, username=None, **changes) -> NewUser:
    values = dict(username=username or f"klinik-{uuid.uuid4().hex[:8]}", first_name="Karen", last_name="Kliniker",
                  email=None, phone="+45 12 34 56 78",
                  memberships={org.OUH: "clinician"}, departments=frozenset({org.OUH_REU_C}))
    values.update(changes)
    values["email"] = values["email"] or f"{values['username'].lower()}@example.org"
    return NewUser(**values)


def test_user_is_created_in_keycloak_and_identity_with_one_event(runtime, directory, keycloak_realm, org):
    new_user = clinician(org, username=f"Karen.K-{uuid.uuid4().hex[:6]}")
    with runtime.uow() as uow:
        user_id = provision_user(uow, directory, new_user, password="Hemmelig-kode-42")

    with runtime.uow() as uow:
        user = user_repository.get(uow.session, user_id)
        assert user.username == new_user.username.lower()
        assert user.phone == "+4512345678"
        assert user_repository.memberships_of(uow.session, user_id) == {org.OUH: "clinician"}
        assert user_repository.departments_of(uow.session, user_id) == {org.OUH_REU_C}
    assert directory.find_user_id(user.username) == user.keycloak_id

    with runtime.db.engine.connect() as connection:
        [body] = connection.execute(select(messaging.outbox.c.body)).scalars()
    event = json.loads(body)
    assert event["type"] == "identity.user.access_changed"
    assert contracts.validate(event["type"], event["version"], event["data"]) == {
        "user_id": str(user_id), "subject": user.keycloak_id, "reason": "created"}

    token = keycloak_realm.user_token(user.username, "Hemmelig-kode-42")
    assert token["access_token"]


def test_username_taken_whatever_its_case(runtime, directory, org):
    name = f"dobbelt-{uuid.uuid4().hex[:6]}"
    with runtime.uow() as uow:
        provision_user(uow, directory, clinician(org, username=name), password="Hemmelig-kode-42")
    with runtime.uow() as uow, pytest.raises(Conflict):
        provision_user(uow, directory, clinician(org, username=name.upper()), password="Hemmelig-kode-42")
    assert count(runtime, users) == 1


def test_password_against_the_policy_keeps_nothing(runtime, directory, org):
    new_user = clinician(org)
    with runtime.uow() as uow, pytest.raises(InvalidInput) as refused:
        provision_user(uow, directory, new_user, password="for-kort")
    assert refused.value.status == 422
    assert "minimum length" in refused.value.errors["password"][0]
    assert directory.find_user_id(new_user.username) is None
    assert nothing_kept(runtime)


def test_bad_fields_and_foreign_departments_are_refused_before_keycloak(runtime, directory, org):
    with runtime.uow() as uow, pytest.raises(InvalidInput) as bad:
        provision_user(uow, directory, clinician(org, username="x", email="ikke-en-adresse", phone="12345678",
                                                 memberships={org.OUH: "chef"}), password="Hemmelig-kode-42")
    assert set(bad.value.errors) == {"username", "email", "phone", "memberships"}

    outside = clinician(org, departments=frozenset({org.HGH_REU}))
    with runtime.uow() as uow, pytest.raises(InvalidInput) as foreign:
        provision_user(uow, directory, outside, password="Hemmelig-kode-42")
    assert "does not belong to" in foreign.value.errors["departments"][0]

    unknown = clinician(org, departments=frozenset({uuid.uuid4()}))
    with runtime.uow() as uow, pytest.raises(InvalidInput) as missing:
        provision_user(uow, directory, unknown, password="Hemmelig-kode-42")
    assert "unknown department" in missing.value.errors["departments"][0]
    assert directory.find_user_id(outside.username) is None
    assert nothing_kept(runtime)


@pytest.mark.parametrize("change", [
    {"DANBIO_KEYCLOAK_URL": "http://127.0.0.1:1"},                    # nothing listens there
    {"IDENTITY_KEYCLOAK_CLIENT_SECRET": "not-the-secret"},             # Keycloak refuses identity
    {"DANBIO_KEYCLOAK_REALM": "no-such-realm"},
    {"IDENTITY_KEYCLOAK_CLIENT_SECRET": ""},                           # not configured
], ids=["down", "wrong-secret", "wrong-realm", "no-secret"])
def test_keycloak_unavailable_is_a_503_and_keeps_nothing(app, identity_env, org, change):
    runtime = build_runtime({**identity_env, **change})
    directory = KeycloakUserDirectory(runtime.settings)
    with runtime.uow() as uow, pytest.raises(DependencyUnavailable) as unavailable:
        provision_user(uow, directory, clinician(org), password="Hemmelig-kode-42")
    assert unavailable.value.to_problem()["status"] == 503
    assert "nothing was changed" in unavailable.value.detail
    assert nothing_kept(runtime)
    runtime.db.dispose()
