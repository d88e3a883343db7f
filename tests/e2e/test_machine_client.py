"""The patient platform, a machine client with client credentials, reports a patient's status
through the gateway: identity resolves its service account to a client principal."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from identity.service.seed import DEMO_USERS

CLINICIAN = next(user for user in DEMO_USERS if user.hospital_role == "clinician")
CPR = "240386-3017"  # invented


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def platform_token(keycloak_realm):
    return keycloak_realm.client_token("patient-platform", keycloak_realm.secrets["DANBIO_KC_PLATFORM_SECRET"])["access_token"]


def test_the_patient_platform_reports_status_through_the_gateway(stack, keycloak_realm, platform_token):
    gateway = stack.url("gateway")
    clinician = bearer(keycloak_realm.user_token(CLINICIAN.username, CLINICIAN.password)["access_token"])
    [department] = requests.get(f"{gateway}/api/patients/departments", params={"mine": "true"}, headers=clinician,
                                timeout=10).json()
    created = requests.post(f"{gateway}/api/patients/patients", headers=clinician, timeout=10, json={
        "cpr": CPR, "name": "Bente Platformsen", "diagnosis_group": "RA", "department_id": department["id"]})
    assert created.status_code == 201, created.text

    report = requests.post(f"{gateway}/api/patients/platform/status", headers=bearer(platform_token), timeout=10,
                           json={"cpr": CPR, "status": "active", "reported_at": datetime.now(timezone.utc).isoformat()})
    assert report.status_code == 200, report.text
    assert report.json()["current"]["status"] == "active"

    history = requests.get(f"{gateway}/api/patients/patients/{created.json()['id']}/platform-status",
                           headers=clinician, timeout=10).json()
    assert history["current"]["status"] == "active"


def test_the_machine_client_is_no_user(stack, platform_token):
    """Its principal carries the platform role only: a user's endpoint refuses it."""
    response = requests.get(f"{stack.url('gateway')}/api/identity/me", headers=bearer(platform_token), timeout=10)
    assert response.status_code == 403


def test_a_client_that_is_not_configured_gets_no_principal(stack, keycloak_realm):
    """identity-admin has a service account too, but no role at the gateway."""
    token = keycloak_realm.client_token("identity-admin", keycloak_realm.secrets["DANBIO_KC_IDENTITY_SECRET"])
    response = requests.get(f"{stack.url('gateway')}/api/patients/regions", headers=bearer(token["access_token"]),
                            timeout=10)
    assert response.status_code in (401, 403)
