"""The gateway against the real Keycloak and real services: which tokens pass, which are refused
(401 problem+json saying why), and that services refuse whatever did not come through it."""
import base64
import json
import time
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from identity.service.seed import DEMO_USERS
from servicekit.principal import HEADER, Principal, generate_keypair, load_private_key, sign

ADMIN = next(user for user in DEMO_USERS if user.registry_admin)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unb64(text: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


@pytest.fixture(scope="module")
def admin_token(stack, keycloak_realm) -> str:
    return keycloak_realm.user_token(ADMIN.username, ADMIN.password)["access_token"]


def get_me(stack, token: str | None = None, **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(f"{stack.url('gateway')}/api/identity/me", headers=headers, timeout=10)


def refused(response, fragment: str) -> dict:
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    body = response.json()
    assert body["status"] == 401 and fragment in body["detail"], body
    return body


def test_a_real_token_reaches_the_service_as_its_user(stack, admin_token):
    response = get_me(stack, admin_token)
    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["username"] == ADMIN.username and profile["registry_admin"] is True
    assert "registry_admin" in profile["roles"]


def test_missing_token(stack):
    refused(get_me(stack), "access token is required")
    refused(get_me(stack, Authorization="Basic cmVnYWRtaW46eA=="), "Bearer <access token>")


def test_expired_token_from_keycloak(stack, keycloak_realm):
    """A client of the realm whose access tokens live 1 s (the stack's gateway allows 1 s of skew)."""
    admin = keycloak_realm.admin
    client_id = f"e2e-short-{uuid.uuid4().hex[:6]}"
    admin.create_client({"clientId": client_id, "publicClient": True, "standardFlowEnabled": False,
                         "directAccessGrantsEnabled": True, "attributes": {"access.token.lifespan": "1"},
                         "defaultClientScopes": ["basic", "profile", "email", "roles", "gateway-audience"]})
    token = keycloak_realm.password_grant(ADMIN.username, ADMIN.password, client_id=client_id).json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 1
    time.sleep(max(0.0, claims["exp"] + 1.5 - time.time()))
    refused(get_me(stack, token), "expired")


def test_wrong_issuer(stack, keycloak_url):
    """A genuine token of Keycloak's master realm: signed, unexpired, but not ours."""
    response = requests.post(f"{keycloak_url}/realms/master/protocol/openid-connect/token", timeout=30, data={
        "grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"})
    refused(get_me(stack, response.json()["access_token"]), "issued by someone other")


def test_wrong_audience(stack, keycloak_realm):
    """A genuine token of our realm, from a client without the gateway audience."""
    admin = keycloak_realm.admin
    client_id = f"e2e-no-gateway-{uuid.uuid4().hex[:6]}"
    admin.create_client({"clientId": client_id, "publicClient": True, "standardFlowEnabled": False,
                         "directAccessGrantsEnabled": True,
                         "defaultClientScopes": ["basic", "profile", "email", "roles"]})
    token = keycloak_realm.password_grant(ADMIN.username, ADMIN.password, client_id=client_id).json()["access_token"]
    assert "gateway" not in jwt.decode(token, options={"verify_signature": False}).get("aud", [])
    refused(get_me(stack, token), "not meant for the gateway")


def test_alg_none(stack, admin_token):
    header, payload, _ = admin_token.split(".")
    unsigned = f"{b64({**unb64(header), 'alg': 'none'})}.{payload}."
    refused(get_me(stack, unsigned), "alg 'none'")


def test_unknown_kid(stack, admin_token):
    """Real claims, signed with a key of our own under a key id Keycloak never published."""
    claims = jwt.decode(admin_token, options={"verify_signature": False})
    forged = jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                        algorithm="RS256", headers={"kid": "forged-key"})
    refused(get_me(stack, forged), "key the identity provider does not publish")


def test_tampered_signature(stack, admin_token):
    header, payload, signature = admin_token.split(".")
    tampered = f"{header}.{b64({**unb64(payload), 'sub': str(uuid.uuid4())})}.{signature}"
    refused(get_me(stack, tampered), "signature is not valid")


def test_valid_login_without_a_danbio_user_has_no_access(stack, keycloak_realm, new_keycloak_user):
    stranger = new_keycloak_user()
    token = keycloak_realm.user_token(stranger.username, stranger.password)["access_token"]
    response = get_me(stack, token)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["detail"].startswith("No access")


def test_services_refuse_requests_that_bypass_the_gateway(stack, admin_token, principal_keys):
    identity = stack.url("identity")
    # The user's own (valid) token is no way in: only the gateway's signed principal is.
    direct = requests.get(f"{identity}/me", headers={"Authorization": f"Bearer {admin_token}"}, timeout=10)
    assert direct.status_code == 401
    assert direct.headers["Content-Type"] == "application/problem+json"
    assert "only through the gateway" in direct.json()["detail"]
    # A principal signed by any other key is refused too.
    other_key = load_private_key(generate_keypair()[0])
    forged = sign(Principal(subject=str(uuid.uuid4()), kind="user", username="mallory", registry_admin=True),
                  audience="identity", key=other_key)
    assert requests.get(f"{identity}/me", headers={HEADER: forged}, timeout=10).status_code == 401
    assert requests.get(f"{stack.url('patients')}/regions", timeout=10).status_code == 401


def test_an_incoming_principal_header_is_replaced(stack, admin_token):
    response = get_me(stack, admin_token, **{HEADER: "forged.principal"})
    assert response.status_code == 200
    assert response.json()["username"] == ADMIN.username


def test_internal_and_operational_paths_are_not_routed(stack, admin_token):
    claims = jwt.decode(admin_token, options={"verify_signature": False})
    gateway = stack.url("gateway")
    for path in (f"/api/identity/internal/principals/{claims['sub']}", "/api/identity/metrics",
                 "/api/patients/openapi.json", "/api/nosuchservice/x", "/api/identity/x/../internal/principals/y"):
        response = requests.get(f"{gateway}{path}", headers={"Authorization": f"Bearer {admin_token}"}, timeout=10)
        assert response.status_code == 404, path
        assert response.headers["Content-Type"] == "application/problem+json"


def test_a_service_that_is_down_is_503_not_a_hang(stack, admin_token):
    """A gateway beside the stack's own whose notifications service is not listening."""
    from .conftest import wait_until_gateway_ready
    from .harness import free_port

    env = {**stack.gateway_env, "GATEWAY_NOTIFICATIONS_URL": f"http://127.0.0.1:{free_port()}"}
    process = stack.start_web("gateway-down", "gateway.app:create_app()", workers=1, threads=4, env=env)
    try:
        process.wait_ready()
        wait_until_gateway_ready(stack.url("gateway-down"))
        started = time.monotonic()
        response = requests.get(f"{stack.url('gateway-down')}/api/notifications/deliveries",
                                headers={"Authorization": f"Bearer {admin_token}"}, timeout=10)
        assert response.status_code == 503
        assert "notifications service is not reachable" in response.json()["detail"]
        assert time.monotonic() - started < 5
        # Its aggregated document still serves the others and says which one is missing.
        document = requests.get(f"{stack.url('gateway-down')}/openapi.json", timeout=10).json()
        assert document["x-unavailable"] == ["notifications"]
        assert "/api/identity/me" in document["paths"]
        assert not [path for path in document["paths"] if path.startswith("/api/notifications/")]
    finally:
        process.stop()
        del stack.processes["gateway-down"]
