import pytest

from identity.runtime import build_runtime as build_identity
from patients.runtime import build_runtime as build_patients


@pytest.fixture
def service_env(new_database, bus, principal_keys, patients_keys):
    return {
        **patients_keys,
        "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1],
        "PATIENTS_DATABASE_URL": new_database("patients"),
        "IDENTITY_DATABASE_URL": new_database("identity"),
        "DANBIO_BROKER_URL": bus,
        "DANBIO_RETRY_DELAYS_MS": "50,100,200",
        "DANBIO_RELAY_IDLE_WAIT": "0.5",
    }


@pytest.fixture
def patients(service_env):
    runtime = build_patients(service_env)
    runtime.migrate()
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def identity(service_env):
    runtime = build_identity(service_env)
    runtime.migrate()
    yield runtime
    runtime.db.dispose()
