"""Fixtures of the patients service's tests: the app on a fresh PostgreSQL database with the
bundled organisation, callers with gateway-signed principals, and a watch on every log line.

Every log record any patients test produces is kept, unmasked (the JSON formatter's masking is a
last line of defence the code must not lean on), and checked for CPR numbers when the test ends.
"""
from __future__ import annotations

import logging
import uuid

import pytest

from patients.app import create_app
from patients.service.organisation import bundled_organisation, load_organisation
from servicekit.principal import PLATFORM, Membership, Principal

from services.patients.tests.support import CAPTURED, Caller, KeepLines, cpr_leaks, key


@pytest.fixture
def env(new_database, amqp_url, principal_keys):
    return {"PATIENTS_DATABASE_URL": new_database("patients"), "DANBIO_BROKER_URL": amqp_url,
            "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1],
            "PATIENTS_CPR_KEY": key(1), "PATIENTS_CPR_HASH_KEY": key(2)}


@pytest.fixture
def app(env):
    app = create_app(env)
    runtime = app.extensions["danbio.runtime"]
    runtime.migrate()
    with runtime.uow() as uow:
        load_organisation(uow, bundled_organisation())
    yield app
    runtime.db.dispose()


@pytest.fixture
def runtime(app):
    return app.extensions["danbio.runtime"]


@pytest.fixture
def caller(app, principal_keys):
    """Factory: caller(ODENSE, ...) a clinician at those departments; registry_admin=True;
    platform=True for the patient platform's machine client."""

    def make(*departments: uuid.UUID, registry_admin: bool = False, platform: bool = False,
             username: str | None = None) -> Caller:
        if platform:
            principal = Principal(subject="patient-platform", kind="client", username="patient-platform",
                                  client_roles=frozenset({PLATFORM}))
        else:
            memberships = (Membership(hospital_id=uuid.uuid4(), role="clinician",
                                      departments=frozenset(departments)),) if departments else ()
            principal = Principal(subject=str(uuid.uuid4()), kind="user",
                                  username=username or f"user{uuid.uuid4().hex[:6]}",
                                  registry_admin=registry_admin, memberships=memberships)
        return Caller(app, principal, principal_keys[0])

    return make


@pytest.fixture(autouse=True)
def no_cpr_in_logs():
    """Fails the test (at teardown) if any log line it produced holds a CPR number."""
    handler = KeepLines()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        CAPTURED.extend(handler.lines)
    leaks = cpr_leaks(handler.lines)
    if leaks:
        pytest.fail(f"{len(leaks)} log line(s) hold a CPR number, e.g.: {leaks[0][:300]}")
