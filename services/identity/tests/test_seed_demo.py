"""python -m identity seed-demo's use case: idempotent, and in step with Keycloak whichever side was reset."""
import json

import pytest
from sqlalchemy import select

from identity.adapters import user_repository
from identity.adapters.keycloak_directory import KeycloakUserDirectory
from identity.adapters.tables import messaging
from identity.runtime import build_runtime
from identity.service.profiles import principal_for_subject
from identity.service.seed import DEMO_USERS, DepartmentsNotReceived, seed_demo
from servicekit.principal import Principal


@pytest.fixture
def no_demo_users(keycloak_admin):
    """The session's realm without the demo users, before and after the test."""
    def remove():
        for demo in DEMO_USERS:
            user_id = keycloak_admin.get_user_id(demo.username)
            if user_id:
                keycloak_admin.delete_user(user_id)
    remove()
    yield
    remove()


def events(runtime) -> list[dict]:
    with runtime.db.engine.connect() as connection:
        return [json.loads(body)["data"] for body in
                connection.execute(select(messaging.outbox.c.body).order_by(messaging.outbox.c.position)).scalars()]


def outcomes(results) -> dict[str, str]:
    return {result.user.username: result.outcome for result in results}


GATEWAY = Principal(subject="gateway", kind="client", username="gateway", client_roles=frozenset({"gateway"}))


def test_seed_creates_the_demo_users_once(no_demo_users, runtime, directory, keycloak_realm, org):
    assert set(outcomes(seed_demo(runtime.uow, directory, timeout=1)).values()) == {"created"}
    assert [e["reason"] for e in events(runtime)] == ["created"] * 3
    assert set(outcomes(seed_demo(runtime.uow, directory, timeout=1)).values()) == {"unchanged"}
    assert len(events(runtime)) == 3

    for demo in DEMO_USERS:
        token = keycloak_realm.user_token(demo.username, demo.password)
        assert token["access_token"], demo.username
    with runtime.uow() as uow:
        admin = user_repository.get_by_username(uow.session, "regadmin")
        clinician = user_repository.get_by_username(uow.session, "ouhlaege")
        local = user_repository.get_by_username(uow.session, "ouhadmin")
        assert admin.registry_admin and "example.org" in admin.email
        assert principal_for_subject(uow, GATEWAY, admin.keycloak_id).registry_admin
        [membership] = principal_for_subject(uow, GATEWAY, clinician.keycloak_id).memberships
        assert (membership.hospital_id, membership.role, membership.departments) == (
            org.OUH, "clinician", frozenset({org.OUH_REU_C}))
        assert principal_for_subject(uow, GATEWAY, local.keycloak_id).administered_hospitals == {org.OUH}


def test_seed_follows_a_reset_of_either_side(no_demo_users, runtime, directory, keycloak_admin):
    seed_demo(runtime.uow, directory, timeout=1)

    # Keycloak lost a user: a new Keycloak user, tied to the identity user that was there.
    old_subject = keycloak_admin.get_user_id("ouhlaege")
    keycloak_admin.delete_user(old_subject)
    assert outcomes(seed_demo(runtime.uow, directory, timeout=1)) == {
        "regadmin": "unchanged", "ouhadmin": "unchanged", "ouhlaege": "relinked"}
    # Both subjects are announced: a principal cached for the old one must be dropped too.
    announced = [(e["reason"], e["subject"]) for e in events(runtime)[-2:]]
    assert announced == [("keycloak_relinked", old_subject),
                         ("keycloak_relinked", keycloak_admin.get_user_id("ouhlaege"))]

    # identity's database is new: the Keycloak users are adopted.
    with runtime.db.engine.begin() as connection:
        for table in ("department_access", "hospital_memberships", "users", "outbox"):
            connection.exec_driver_sql(f"DELETE FROM {table}")
    assert set(outcomes(seed_demo(runtime.uow, directory, timeout=1)).values()) == {"adopted"}
    with runtime.uow() as uow:
        adopted = user_repository.get_by_username(uow.session, "ouhadmin")
    assert adopted.keycloak_id == keycloak_admin.get_user_id("ouhadmin")


def test_seed_says_what_is_missing_when_departments_never_arrive(no_demo_users, identity_env, new_database,
                                                                 keycloak_admin):
    runtime = build_runtime({**identity_env, "IDENTITY_DATABASE_URL": new_database("identity")})
    runtime.migrate()
    with pytest.raises(DepartmentsNotReceived, match="patients load-reference"):
        seed_demo(runtime.uow, KeycloakUserDirectory(runtime.settings), timeout=0.3)
    assert keycloak_admin.get_user_id("regadmin") is None
    runtime.db.dispose()
