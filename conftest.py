"""Fixtures shared by every test: the real PostgreSQL and RabbitMQ that `make test` starts.

A missing server is an error, never a skip."""
import os

import pytest

from servicekit import testing
from servicekit.principal import generate_keypair, load_private_key

from patients.settings import new_key

# Keycloak fixtures (keycloak_url, keycloak_realm, keycloak_admin, new_keycloak_user).
pytest_plugins = ("tests.keycloak.fixtures", "tests.notifications.fixtures")

FAST_RETRIES = (50, 100, 200)

# One gateway signing key per test session; services get the public half.
SIGNING_PEM, PUBLIC_PEM = generate_keypair()


@pytest.fixture(scope="session")
def principal_keys():
    """(private key object, public key PEM): to sign principals as the gateway does."""
    return load_private_key(SIGNING_PEM), PUBLIC_PEM


# patients' CPR keys: required with a server database (no silently generated key there).
PATIENTS_KEYS = {"PATIENTS_CPR_KEY": new_key(), "PATIENTS_CPR_HASH_KEY": new_key()}


@pytest.fixture(scope="session")
def patients_keys() -> dict:
    return dict(PATIENTS_KEYS)


@pytest.fixture(autouse=True, scope="session")
def _principal_key_in_environment():
    # Processes the tests start (workers, CLIs) read their settings from the environment.
    os.environ["DANBIO_PRINCIPAL_PUBLIC_KEY"] = PUBLIC_PEM
    os.environ.update(PATIENTS_KEYS)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = testing.require_env("DANBIO_TEST_PG_URL")
    testing.check_postgres(url)
    return url


@pytest.fixture(scope="session")
def amqp_url():
    """RabbitMQ, in a virtual host of this test session's own: sessions running side by side
    (developers, helpers, CI) never see each other's queues."""
    url = testing.require_env("DANBIO_TEST_AMQP_URL")
    testing.check_broker(url)
    ctl = testing.require_env("DANBIO_TEST_RABBITMQ_CTL")
    with testing.private_vhost(url, ctl) as isolated:
        yield isolated


@pytest.fixture
def new_database(pg_admin_url):
    """Factory: a fresh PostgreSQL database per call, dropped after the test."""
    created = []

    def make(prefix: str = "t") -> str:
        url = testing.create_database(pg_admin_url, prefix)
        created.append(url)
        return url

    yield make
    for url in created:
        testing.drop_database(pg_admin_url, url)


@pytest.fixture
def bus(amqp_url) -> str:
    """RabbitMQ with the whole topology declared and every queue empty."""
    testing.reset_bus(amqp_url, FAST_RETRIES)
    return amqp_url
