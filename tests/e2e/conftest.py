"""The whole system as real processes, for end-to-end and browser tests.

One stack per test session: identity, patients (web + worker each), the gateway and the web UI
under gunicorn on free ports, fresh PostgreSQL databases, a RabbitMQ virtual host of its own (the
bus tests reset theirs under their feet otherwise), and this session's Keycloak realm with the
demo users seeded through identity's own command. Process logs are in the pytest temp dir.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import string
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from servicekit import testing
from servicekit.sealed import generate_key

from tests.notifications.servers import SmsServer, SmtpServer

from .harness import Stack

RATE_LIMITS = "POST /api/identity/password-resets/** 3/60 ip; GET /api/patients/regions 5/60 user"


def private_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="session")
def e2e_broker_url():
    url = testing.require_env("DANBIO_TEST_AMQP_URL")
    testing.check_broker(url)
    with testing.private_vhost(url, testing.require_env("DANBIO_TEST_RABBITMQ_CTL")) as isolated:
        yield isolated


@pytest.fixture(scope="session")
def e2e_databases(pg_admin_url):
    urls = {name: testing.create_database(pg_admin_url, f"e2e_{name}")
            for name in ("identity", "patients", "web", "notifications")}
    yield urls
    for url in urls.values():
        testing.drop_database(pg_admin_url, url)


def point_web_client_at(keycloak_realm, web_url: str) -> None:
    """The realm's `web` client, with this stack's web UI as its only redirect target and its base URL
    (where the login theme's "Glemt adgangskode?" link goes)."""
    admin = keycloak_realm.admin
    client_id = admin.get_client_id("web")
    client = admin.get_client(client_id)
    client["redirectUris"] = [f"{web_url}/auth/callback"]
    client["baseUrl"] = f"{web_url}/"
    client.setdefault("attributes", {})["post.logout.redirect.uris"] = f"{web_url}/"
    admin.update_client(client_id, client)


@pytest.fixture(scope="session")
def stack_smtp():
    """The SMTP server the stack's notifications worker delivers to (aiosmtpd, in this process)."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack_sms():
    """The HTTP server, speaking the SMS gateway's contract, the stack's SMS go to."""
    server = SmsServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory, e2e_broker_url, e2e_databases, keycloak_realm, principal_keys, stack_smtp, stack_sms):
    with start_stack(tmp_path_factory.mktemp("e2e-logs"), e2e_broker_url, e2e_databases, keycloak_realm,
                     principal_keys, stack_smtp, stack_sms) as running:
        yield running


@contextlib.contextmanager
def start_stack(log_dir, broker_url, databases, keycloak_realm, principal_keys, smtp, sms, extra_env=None):
    """The whole system on ``databases`` (identity, patients, web, notifications URLs) and ``broker_url``,
    mail to ``smtp``, SMS to ``sms``, ``extra_env`` for every process; stopped when the block ends
    (tests/chaos builds its own with it)."""
    signing_key, public_pem = principal_keys
    e2e_databases, stack_smtp, stack_sms = databases, smtp, sms
    stack = Stack({
        # identity seals set-password tokens and codes for notifications with this key.
        "DANBIO_SEALING_KEY": generate_key(),
        "DANBIO_PRINCIPAL_PUBLIC_KEY": public_pem,
        "DANBIO_BROKER_URL": broker_url,
        "DANBIO_RETRY_DELAYS_MS": "50,100,200",
        "DANBIO_RELAY_IDLE_WAIT": "0.5",
        "IDENTITY_KEYCLOAK_SWEEP_SECONDS": "1",  # Keycloak users of unfinished creations go within a second
        "IDENTITY_DATABASE_URL": e2e_databases["identity"],
        "PATIENTS_DATABASE_URL": e2e_databases["patients"],
        **keycloak_realm.identity_env(),
        **(extra_env or {}),
    }, log_dir)
    identity, patients = stack.reserve("identity"), stack.reserve("patients")
    gateway, web = stack.reserve("gateway"), stack.reserve("web")
    point_web_client_at(keycloak_realm, web)
    web_env = {"WEB_DATABASE_URL": e2e_databases["web"], "WEB_PUBLIC_URL": web, "WEB_GATEWAY_URL": gateway,
               "WEB_OIDC_ISSUER": keycloak_realm.issuer, "WEB_SESSION_KEY": generate_key(),
               "DANBIO_KC_WEB_SECRET": keycloak_realm.secrets["DANBIO_KC_WEB_SECRET"]}
    gateway_env = {"GATEWAY_PRINCIPAL_SIGNING_KEY": private_pem(signing_key), "GATEWAY_ISSUER": keycloak_realm.issuer,
                   "GATEWAY_IDENTITY_URL": identity, "GATEWAY_PATIENTS_URL": patients,
                   "GATEWAY_NOTIFICATIONS_URL": stack.reserve("notifications"),
                   "GATEWAY_TOKEN_LEEWAY_SECONDS": "1", "GATEWAY_RATE_LIMITS": RATE_LIMITS}
    # The notifications worker sends mail and SMS; its API lists deliveries for the administrators.
    notifications_env = {"NOTIFICATIONS_DATABASE_URL": e2e_databases["notifications"],
                         "NOTIFICATIONS_SMTP_HOST": "127.0.0.1", "NOTIFICATIONS_SMTP_PORT": str(stack_smtp.port),
                         "NOTIFICATIONS_SMTP_SECURITY": "none", "NOTIFICATIONS_SMS_PROVIDER": "http",
                         "NOTIFICATIONS_SMS_API_URL": stack_sms.url, "NOTIFICATIONS_SMS_API_TOKEN": stack_sms.token,
                         "NOTIFICATIONS_WEB_URL": web, "NOTIFICATIONS_SET_PASSWORD_URL": f"{web}/aktiver/{{token}}",
                         "NOTIFICATIONS_RETRY_BASE_SECONDS": "0.2", "NOTIFICATIONS_DISPATCH_POLL_SECONDS": "0.2"}
    stack.smtp, stack.sms = stack_smtp, stack_sms  # what the stack sent: stack.smtp.mails_to(address), stack.sms.requests
    stack.gateway_env = gateway_env  # tests that start another gateway start it like this one
    stack.web_env = web_env
    try:
        for service in ("identity", "patients"):
            stack.run("-m", service, "migrate")
        stack.run("-m", "patients", "load-reference")
        stack.run("-m", "web", "migrate", env=web_env)
        stack.run("-m", "notifications", "migrate", env=notifications_env)
        stack.start_web("identity", "identity.app:create_app()")
        stack.start_web("patients", "patients.app:create_app()")
        stack.start_worker("identity")
        stack.start_worker("patients")
        stack.start_worker("notifications", env=notifications_env)
        stack.start_web("notifications", "notifications.app:create_app()", env=notifications_env)
        # One process with threads, as in the Procfile: one principal cache per gateway.
        stack.start_web("gateway", "gateway.app:create_app()", workers=1, threads=16, env=gateway_env)
        stack.start_web("web", "web.app:create_app()", workers=2, env=web_env)
        stack.wait_ready()
        stack.run("-m", "identity", "seed-demo", "--timeout", "60")
        wait_until_gateway_ready(gateway)
        yield stack
    finally:
        stack.stop()


def wait_until_gateway_ready(url: str) -> None:
    """Ready includes: consuming access changes (until then the principal cache is off)."""
    testing.wait_for(lambda: requests.get(f"{url}/readyz", timeout=2).status_code == 200, timeout=30,
                     message="the gateway to be ready")


@pytest.fixture(scope="session")
def identity_runtime(stack):
    """identity's own code on the stack's database: to set up and change users as its use cases do."""
    from identity.runtime import build_runtime

    runtime = build_runtime({**os.environ, **stack.env})
    yield runtime
    runtime.db.dispose()


@pytest.fixture(scope="session")
def user_directory(identity_runtime):
    from identity.adapters.keycloak_directory import KeycloakUserDirectory

    return KeycloakUserDirectory(identity_runtime.settings)


def invented_username(prefix: str) -> str:
    """A fresh username of letters only: ten hex digits in a row can be all decimal digits, and the
    CPR scans of logs and mails would rightly flag them."""
    return f"{prefix}-" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))


def user_factory(runtime, directory):
    """make(registry_admin=..., memberships=..., departments=...) -> (identity user id, KeycloakUser):
    a user in Keycloak and identity, made by identity's own provision_user."""
    from identity.domain.users import NewUser
    from identity.service.users import provision_user

    from tests.keycloak.fixtures import KeycloakUser

    def make(*, registry_admin: bool = False, memberships=None, departments=frozenset()):
        username = invented_username("e2e")
        password = f"Pw-{uuid.uuid4().hex[:16]}"
        with runtime.uow() as uow:
            user_id = provision_user(uow, directory, NewUser(
                username=username, first_name="Test", last_name="Bruger", email=f"{username}@example.org",
                registry_admin=registry_admin, memberships=dict(memberships or {}), departments=departments),
                password=password)
        return user_id, KeycloakUser(id=directory.find_user_id(username), username=username, password=password)

    return make


@pytest.fixture
def new_user(identity_runtime, user_directory):
    return user_factory(identity_runtime, user_directory)


def metric(url: str, name: str, **labels) -> float:
    """A counter's value from a process's /metrics (0 if not yet counted)."""
    text = requests.get(f"{url}/metrics", timeout=5).text
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{{re.escape(wanted)}\}})? ([0-9.e+-]+)$", re.M)
    match = pattern.search(text)
    return float(match.group(1)) if match else 0.0
