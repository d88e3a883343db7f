"""Keycloak for the test session: a realm made from the current realm file, and helpers to get
tokens without a browser. Loaded for every test by the root conftest (``pytest_plugins``).

Each test session gets a realm of its own, ``danbio-test-<random>``, created from
deploy/keycloak/realm-danbio.json (placeholders filled as in development) and deleted at the end:
sessions running side by side, and a `make run` using realm ``danbio`` on the same Keycloak, never
see each other's users. Only for tests, the realm also gets a public client with direct access
grants (``danbio-test-direct-grant``, with the gateway-audience scope): the realm file itself
allows password grants to no client.

Keycloak is the one at DANBIO_TEST_KEYCLOAK_URL (``make test`` starts it in the background and
sets DANBIO_TEST_KEYCLOAK_STARTING to a directory whose ``rc`` file tells when the start ended);
a missing Keycloak is a failure, never a skip.
"""
from __future__ import annotations

import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakDeleteError, KeycloakGetError

from dev import keycloak_realm as realm_file
from dev import keycloak_upstreams as upstreams
from servicekit.testing import ServerMissing, require_env

DIRECT_GRANT_CLIENT = "danbio-test-direct-grant"
TEST_REALM_PREFIX = "danbio-test-"
CREATED_ATTRIBUTE = "danbioTestCreatedAt"
STALE_AFTER_SECONDS = 3 * 3600


@dataclass(frozen=True)
class KeycloakUser:
    id: str            # Keycloak's id: the `sub` of the user's tokens
    username: str
    password: str


@dataclass
class KeycloakTestRealm:
    url: str                   # Keycloak's base URL
    name: str                  # this session's realm
    admin: KeycloakAdmin       # admin API of this realm, as Keycloak's bootstrap admin
    secrets: dict[str, str] = field(default_factory=dict)  # DANBIO_KC_*_SECRET values the realm was made with

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{self.name}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    def identity_env(self) -> dict[str, str]:
        """The identity service's Keycloak settings for this realm."""
        return {"DANBIO_KEYCLOAK_URL": self.url, "DANBIO_KEYCLOAK_REALM": self.name,
                "IDENTITY_KEYCLOAK_CLIENT_ID": "identity-admin",
                "IDENTITY_KEYCLOAK_CLIENT_SECRET": self.secrets["DANBIO_KC_IDENTITY_SECRET"]}

    def create_user(self, username: str | None = None, password: str | None = None, *, first_name: str = "Test",
                    last_name: str = "Bruger", email: str | None = None) -> KeycloakUser:
        """An enabled user with a password that meets the realm's policy (straight in Keycloak)."""
        username = username or f"test-{uuid.uuid4().hex[:10]}"
        password = password or f"Pw-{secrets.token_urlsafe(12)}"
        user_id = self.admin.create_user({
            "username": username, "enabled": True, "emailVerified": True, "firstName": first_name,
            "lastName": last_name, "email": email or f"{username}@example.org"})
        self.admin.set_user_password(user_id, password, temporary=False)
        return KeycloakUser(id=user_id, username=username, password=password)

    def password_grant(self, username: str, password: str, *, client_id: str = DIRECT_GRANT_CLIENT,
                       client_secret: str | None = None) -> requests.Response:
        """The raw token response of a password grant (tests of failures look at it)."""
        data = {"grant_type": "password", "client_id": client_id, "username": username, "password": password,
                "scope": "openid"}
        if client_secret:
            data["client_secret"] = client_secret
        return requests.post(self.token_endpoint, data=data, timeout=30)

    def user_token(self, username: str, password: str) -> dict:
        """Tokens of a user (access_token has aud 'gateway'), by the test client's password grant."""
        response = self.password_grant(username, password)
        assert response.status_code == 200, f"password grant for {username} failed: {response.text}"
        return response.json()

    def client_token(self, client_id: str, secret: str) -> dict:
        """Tokens of a machine client by client credentials, e.g. ('patient-platform', secrets[...])."""
        response = requests.post(self.token_endpoint, data={"grant_type": "client_credentials", "client_id": client_id,
                                                            "client_secret": secret}, timeout=30)
        assert response.status_code == 200, f"client credentials for {client_id} failed: {response.text}"
        return response.json()


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/realms/master", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def _wait_for_keycloak(url: str) -> None:
    """Keycloak may still be starting (make test starts it in the background)."""
    starting = os.environ.get("DANBIO_TEST_KEYCLOAK_STARTING")
    deadline = time.monotonic() + float(os.environ.get("DANBIO_TEST_KEYCLOAK_WAIT", "600"))
    rc_file = Path(starting, "rc") if starting else None
    while not _answers(url):
        if rc_file is None or time.monotonic() > deadline:
            raise ServerMissing(f"Keycloak does not answer at {url}")
        if rc_file.exists() and rc_file.read_text().strip() not in ("", "0"):
            log = Path(starting, "log")
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise ServerMissing(f"starting Keycloak failed:\n{tail}")
        time.sleep(0.5)


def _remove_stale_test_realms(admin: KeycloakAdmin) -> None:
    """Realms of test sessions that died before their clean-up."""
    for realm in admin.get_realms():
        name = realm["realm"]
        if not name.startswith(TEST_REALM_PREFIX):
            continue
        try:
            created = (admin.get_realm(name).get("attributes") or {}).get(CREATED_ATTRIBUTE, "0")
            if time.time() - float(created) > STALE_AFTER_SECONDS:
                admin.delete_realm(name)
        except (KeycloakGetError, KeycloakDeleteError) as exc:
            if exc.response_code != 404:  # 404: another session removed it meanwhile
                raise


@pytest.fixture(scope="session")
def keycloak_url() -> str:
    url = require_env("DANBIO_TEST_KEYCLOAK_URL").rstrip("/")
    _wait_for_keycloak(url)
    return url


def create_test_realm(url: str, *, overrides: dict | None = None) -> KeycloakTestRealm:
    """A new realm ``danbio-test-<random>`` from the realm file (``overrides`` replace top-level
    settings), with the test-only direct-grant client. Delete it with ``delete_test_realm``."""
    master = realm_file.master_admin(url)
    name = f"{TEST_REALM_PREFIX}{uuid.uuid4().hex[:8]}"
    values = realm_file.dev_values()
    representation = realm_file.realm_representation(values, name=name)
    representation.update(overrides or {})
    representation["attributes"][CREATED_ATTRIBUTE] = str(int(time.time()))
    # The simulated MitID / regional IdPs of this session (realms "<name>-mitid-sim", ...), which the
    # realm brokers to as `make run`'s realm danbio does (dev/keycloak_upstreams.py).
    sim_values = upstreams.sim_values(url, name, prefix=f"{name}-")
    upstreams.create_upstreams(master, sim_values, extra_attributes={CREATED_ATTRIBUTE: str(int(time.time()))})
    upstreams.add_identity_providers(representation, sim_values)
    master.create_realm(representation)
    admin = KeycloakAdmin(server_url=url, username="admin", password="admin", realm_name=name,
                          user_realm_name="master", timeout=30)
    admin.create_client({
        "clientId": DIRECT_GRANT_CLIENT, "name": "test only: password grants", "publicClient": True,
        "standardFlowEnabled": False, "directAccessGrantsEnabled": True, "serviceAccountsEnabled": False,
        "defaultClientScopes": ["basic", "acr", "profile", "email", "roles", "gateway-audience"]})
    return KeycloakTestRealm(url=url, name=name, admin=admin,
                             secrets={k: v for k, v in values.items() if k.endswith("_SECRET")})


def delete_test_realm(realm: KeycloakTestRealm) -> None:
    master = realm_file.master_admin(realm.url)
    master.delete_realm(realm.name)
    upstreams.delete_upstreams(master, upstreams.sim_values(realm.url, realm.name, prefix=f"{realm.name}-"))


@pytest.fixture(scope="session")
def keycloak_realm(keycloak_url) -> KeycloakTestRealm:
    """This session's realm, made from the current realm file, with the test-only direct-grant client."""
    _remove_stale_test_realms(realm_file.master_admin(keycloak_url))
    realm = create_test_realm(keycloak_url)
    yield realm
    delete_test_realm(realm)


@pytest.fixture(scope="session")
def keycloak_admin(keycloak_realm) -> KeycloakAdmin:
    """Keycloak's admin API on this session's realm (as the bootstrap admin)."""
    return keycloak_realm.admin


@pytest.fixture
def new_keycloak_user(keycloak_realm):
    """Factory: a Keycloak user (KeycloakUser: id, username, password) deleted after the test."""
    created: list[str] = []

    def make(**kwargs) -> KeycloakUser:
        user = keycloak_realm.create_user(**kwargs)
        created.append(user.id)
        return user

    yield make
    for user_id in created:
        try:
            keycloak_realm.admin.delete_user(user_id)
        except KeycloakDeleteError as exc:
            if exc.response_code != 404:  # 404: the test deleted it itself
                raise
