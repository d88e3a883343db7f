"""The gateway's routing services: one OpenAPI document, request ids, rate limits, headers."""
import uuid

import pytest
import requests

from identity.service.seed import DEMO_USERS
from servicekit.logs import mask_cpr

ADMIN = next(user for user in DEMO_USERS if user.registry_admin)
CLINICIAN = next(user for user in DEMO_USERS if user.hospital_role == "clinician")


@pytest.fixture(scope="module")
def tokens(stack, keycloak_realm):
    return {user.username: keycloak_realm.user_token(user.username, user.password)["access_token"]
            for user in (ADMIN, CLINICIAN)}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_one_openapi_document_for_all_services(stack):
    document = requests.get(f"{stack.url('gateway')}/openapi.json", timeout=10).json()
    paths = document["paths"]
    assert "/api/identity/me" in paths and "/api/patients/regions" in paths
    assert not [path for path in paths if "/internal/" in path or path.endswith(("/healthz", "/metrics"))]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    schemas = document["components"]["schemas"]
    # Both services have a "Department"; prefixed, they no longer collide, and references follow.
    assert {"identity.Department", "patients.Department"} <= set(schemas), sorted(schemas)
    reference = paths["/api/patients/regions"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert reference["items"]["$ref"].startswith("#/components/schemas/patients.")
    # Every service answered: none is listed as unavailable, and each one's paths are there.
    assert "x-unavailable" not in document
    assert "/api/notifications/deliveries" in paths
    docs = requests.get(f"{stack.url('gateway')}/docs", timeout=10)
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_request_id_travels_to_the_service(stack, tokens):
    request_id = f"e2e-{uuid.uuid4().hex}"
    response = requests.get(f"{stack.url('gateway')}/api/patients/departments",
                            headers={**bearer(tokens[ADMIN.username]), "X-Request-ID": request_id}, timeout=10)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == request_id
    assert f'"correlation_id": "{mask_cpr(request_id)}"' in stack.log("patients")
    generated = requests.get(f"{stack.url('gateway')}/api/patients/departments",
                             headers=bearer(tokens[ADMIN.username]), timeout=10).headers["X-Request-ID"]
    # (The log's CPR mask also rewrites a hex id that happens to hold ten digits in a row.)
    assert len(generated) == 32 and f'"correlation_id": "{mask_cpr(generated)}"' in stack.log("patients")


def test_rate_limit_per_user(stack, new_user, keycloak_realm):
    """The stack limits GET /api/patients/regions to 5 a minute per user (fresh users: other tests
    call /regions as the demo users)."""
    url = f"{stack.url('gateway')}/api/patients/regions"
    first, second = (keycloak_realm.user_token(login.username, login.password)["access_token"]
                     for _, login in (new_user(), new_user()))
    statuses = [requests.get(url, headers=bearer(first), timeout=10).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    refused = requests.get(url, headers=bearer(first), timeout=10)
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Another user is counted apart.
    assert requests.get(url, headers=bearer(second), timeout=10).status_code == 200


def test_rate_limit_per_ip_comes_before_authentication(stack):
    """POST /api/identity/password-resets/** allows 3 a minute per address, token or not."""
    url = f"{stack.url('gateway')}/api/identity/password-resets"
    statuses = [requests.post(url, json={"username": "x"}, timeout=10).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_public_routes_are_forwarded_without_a_token(stack):
    """/api/<service>/public/** reaches the service without a token: the answer is the service's own."""
    url = f"{stack.url('gateway')}/api/identity/public/no-such-page"
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 404
        assert "WWW-Authenticate" not in response.headers
    # A non-public path still needs the token.
    assert requests.get(f"{stack.url('gateway')}/api/identity/me", timeout=10).status_code == 401


def test_security_headers_on_api_answers(stack, tokens):
    response = requests.get(f"{stack.url('gateway')}/api/identity/me", timeout=10,
                            headers={**bearer(tokens[ADMIN.username]), "Connection": "keep-alive, X-Secret",
                                     "X-Secret": "not for the service"})
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Cache-Control"] == "no-store"
