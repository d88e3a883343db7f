import uuid
from types import SimpleNamespace

import pytest

from identity.app import create_app
from identity.service.departments import apply_department_upserted
from servicekit.events import new_event
from servicekit.principal import HEADER, Principal, sign

OUH = uuid.UUID("7a3e1d52-0c1b-4a8e-9a44-3f1d7c2b9e01")
OUH_REU_C = uuid.UUID("0d6b8f3a-5e2c-4f7a-8b19-6c4e2a1f3d02")
OUH_MED = uuid.UUID("5c1f7e2b-8d3a-4b6c-9e05-2a7d4f1c8b03")
HGH = uuid.UUID("2e9c4b71-6f0d-4a3e-8c52-9b1e7d3f0a04")
HGH_REU = uuid.UUID("9f4a2c6e-1b7d-4e8f-a063-5d2b8c4e1f05")


def department_event(department_id, code, name, hospital_id, hospital_code, hospital_name):
    return new_event("patients.department.upserted", {
        "id": str(department_id), "code": code, "name": name, "active": True, "revision": 1,
        "hospital": {"id": str(hospital_id), "code": hospital_code, "name": hospital_name},
        "region": {"code": "SD", "name": "Region Syddanmark"}}, producer="patients")


ORGANISATION = (
    (OUH_REU_C, "OUH-REU-C", "Reumatologisk Afdeling C", OUH, "OUH", "Odense Universitetshospital"),
    (OUH_MED, "OUH-MED", "Medicinsk Afdeling", OUH, "OUH", "Odense Universitetshospital"),
    (HGH_REU, "HGH-REU", "Reumatologisk Afdeling", HGH, "HGH", "Herlev og Gentofte Hospital"),
)


def receive_organisation(runtime) -> None:
    """identity's read model as the patients service's events leave it."""
    for department in ORGANISATION:
        with runtime.uow() as uow:
            apply_department_upserted(uow, department_event(*department))
            uow.commit()


@pytest.fixture
def identity_env(new_database, principal_keys, keycloak_realm):
    return {"IDENTITY_DATABASE_URL": new_database("identity"), "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1],
            **keycloak_realm.identity_env()}


@pytest.fixture
def app(identity_env):
    app = create_app(identity_env)
    runtime = app.extensions["danbio.runtime"]
    runtime.migrate()
    receive_organisation(runtime)
    yield app
    runtime.db.dispose()


@pytest.fixture
def runtime(app):
    return app.extensions["danbio.runtime"]


@pytest.fixture
def directory(app):
    return app.extensions["identity.directory"]


@pytest.fixture
def signed(principal_keys):
    """Headers carrying a principal signed by the gateway for identity."""
    def headers(principal: Principal) -> dict:
        return {HEADER: sign(principal, audience="identity", key=principal_keys[0])}
    return headers


@pytest.fixture
def as_gateway(signed) -> dict:
    """Headers of the gateway calling for itself (a client principal with the 'gateway' role)."""
    return signed(Principal(subject="gateway", kind="client", username="gateway", client_roles=frozenset({"gateway"})))


@pytest.fixture
def org():
    """Ids of the organisation identity holds in these tests."""
    return SimpleNamespace(OUH=OUH, OUH_REU_C=OUH_REU_C, OUH_MED=OUH_MED, HGH=HGH, HGH_REU=HGH_REU)
