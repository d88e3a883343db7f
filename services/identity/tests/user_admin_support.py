"""Shared by the test_user_admin_* files: an identity app with Keycloak (the session's realm) and
a sealing key, people in the organisation of conftest.py, and signed principals for them.

Hospital A is OUH (departments OUH-REU-C, OUH-MED), hospital B is HGH (HGH-REU)."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from identity.adapters import department_repository, user_repository
from identity.adapters.tables import messaging
from identity.app import create_app
from identity.domain.users import NewUser, user_principal
from identity.service.users import record_new_user
from servicekit.principal import Principal

from services.identity.tests.conftest import receive_organisation


@dataclass(frozen=True)
class Person:
    id: uuid.UUID
    username: str
    keycloak_id: str
    principal: Principal


def principal_of(runtime, user_id: uuid.UUID) -> Principal:
    """The principal identity would hand the gateway for this user now."""
    with runtime.uow() as uow:
        user = user_repository.get(uow.session, user_id)
        memberships = user_repository.memberships_of(uow.session, user_id)
        departments = department_repository.by_ids(uow.session, user_repository.departments_of(uow.session, user_id))
    return user_principal(user_id=user_id, username=user.username, registry_admin=user.registry_admin,
                          memberships=memberships, department_hospitals={d.id: d.hospital_id for d in departments})


def add_person(runtime, *, memberships: dict, departments=(), registry_admin=False, username=None,
               first_name="Test", last_name="Person", email=None, phone=None, keycloak_id=None) -> Person:
    """A user straight in identity's tables (tied to an invented Keycloak id unless one is given)."""
    username = username or f"u-{uuid.uuid4().hex[:10]}"
    keycloak_id = keycloak_id or str(uuid.uuid4())
    user = NewUser(username=username, first_name=first_name, last_name=last_name,
                   email=email or f"{username}@example.org", phone=phone, registry_admin=registry_admin,
                   memberships=memberships, departments=frozenset(departments)).validated()
    with runtime.uow() as uow:
        user_id = record_new_user(uow, user, keycloak_id)
        uow.commit()
    return Person(id=user_id, username=user.username, keycloak_id=keycloak_id, principal=principal_of(runtime, user_id))


def outbox(runtime, event_type: str | None = None) -> list[dict]:
    """Events in identity's outbox (oldest first), optionally of one type."""
    with runtime.db.engine.connect() as connection:
        bodies = connection.execute(select(messaging.outbox.c.body).order_by(messaging.outbox.c.position)).scalars()
        events = [json.loads(body) for body in bodies]
    return [event for event in events if event_type is None or event["type"] == event_type]


@pytest.fixture
def admin_app(identity_env, sealing_key):
    app = create_app({**identity_env, "DANBIO_SEALING_KEY": sealing_key})
    runtime = app.extensions["danbio.runtime"]
    runtime.migrate()
    receive_organisation(runtime)
    yield app
    runtime.db.dispose()


@pytest.fixture
def admin_runtime(admin_app):
    return admin_app.extensions["danbio.runtime"]


@pytest.fixture
def client(admin_app):
    return admin_app.test_client()


@pytest.fixture
def people(admin_runtime, org):
    """Everyone the authorisation matrix needs."""
    rt = admin_runtime

    class People:
        admin_a = add_person(rt, memberships={org.OUH: "local_admin"}, departments={org.OUH_REU_C},
                             first_name="Anne", last_name="Admin")
        admin_b = add_person(rt, memberships={org.HGH: "local_admin"}, departments={org.HGH_REU},
                             first_name="Bent", last_name="Boss")
        registry = add_person(rt, memberships={}, registry_admin=True, first_name="Rikke", last_name="Register")
        clinician_a = add_person(rt, memberships={org.OUH: "clinician"}, departments={org.OUH_REU_C},
                                 first_name="Karen", last_name="Kliniker")
        user_a = add_person(rt, memberships={org.OUH: "secretary"}, departments={org.OUH_MED},
                            first_name="Signe", last_name="Sekretær")
        user_b = add_person(rt, memberships={org.HGH: "clinician"}, departments={org.HGH_REU},
                            first_name="Bo", last_name="Bruger")
        shared = add_person(rt, memberships={org.OUH: "clinician", org.HGH: "clinician"},
                            departments={org.OUH_REU_C, org.HGH_REU}, first_name="Delt", last_name="Dorthe")
    return People
