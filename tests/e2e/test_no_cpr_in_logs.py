"""No log line of the running system holds a CPR number: every line every process of the e2e stack
wrote (web UI, gateway, identity, patients, workers) is scanned for anything CPR-shaped — after CPR
traffic of its own through the browser and the gateway, and after whatever the session's other
end-to-end tests sent (the browser tests of E1, E2 and F1 run before this file).

The patients service's own tests scan each line its code logs (services/patients/tests); this is
the same watch over the deployed processes, request logs and all."""
from __future__ import annotations

from datetime import datetime, timezone

import requests
from playwright.sync_api import expect, sync_playwright

from services.patients.tests.support import cpr_leaks
from tests.e2e.test_browser_login import CHROMIUM_ARGS, CLINICIAN
from tests.e2e.test_browser_patients import invented_cpr, log_in


def every_log_line(stack) -> dict[str, list[str]]:
    return {name: process.log_text().splitlines() for name, process in stack.processes.items()}


def send_cpr_traffic(stack, keycloak_realm) -> None:
    """Each way a CPR enters the system, the refusals included (their texts are where numbers slip)."""
    gateway = f"{stack.url('gateway')}/api/patients"
    token = keycloak_realm.user_token(CLINICIAN.username, CLINICIAN.password)["access_token"]
    user = {"Authorization": f"Bearer {token}"}
    [department] = requests.get(f"{gateway}/departments", params={"mine": "true"}, headers=user, timeout=10).json()
    cpr, unknown = invented_cpr(), invented_cpr()
    for body in ({"cpr": cpr}, {"cpr": "310299-1234"}, {"cpr": "31029912345"}):
        requests.post(f"{gateway}/patients/lookup", json=body, headers=user, timeout=10)
    created = requests.post(f"{gateway}/patients", headers=user, timeout=10, json={
        "cpr": cpr, "name": "Tove Logfri", "diagnosis_group": "RA", "department_id": department["id"]})
    assert created.status_code == 201, created.text
    again = requests.post(f"{gateway}/patients", headers=user, timeout=10, json={
        "cpr": cpr, "name": "Tove Logfri", "diagnosis_group": "RA", "department_id": department["id"]})
    assert again.status_code == 409
    requests.post(f"{gateway}/patients/search", json={"cpr": cpr}, headers=user, timeout=10)
    requests.post(f"{gateway}/transfers", headers=user, timeout=10, json={
        "cpr": unknown, "from_department_ids": [department["id"]], "to_department_id": department["id"]})
    platform = keycloak_realm.client_token("patient-platform", keycloak_realm.secrets["DANBIO_KC_PLATFORM_SECRET"])
    for number in (cpr, unknown):
        requests.post(f"{gateway}/platform/status", headers={"Authorization": f"Bearer {platform['access_token']}"},
                      timeout=10, json={"cpr": number, "status": "active",
                                        "reported_at": datetime.now(timezone.utc).isoformat()})

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_context(locale="da-DK").new_page()
        log_in(page, stack, keycloak_realm, CLINICIAN)
        page.goto(f"{stack.url('web')}/patienter/opret")
        page.get_by_label("CPR-nummer").press_sequentially(cpr.replace("-", ""))
        expect(page.locator("#cpr-message")).to_contain_text("allerede registreret på din afdeling")
        page.get_by_label("Navn").fill("Tove Logfri")
        page.get_by_label("Diagnosegruppe").select_option("RA")
        page.get_by_role("button", name="GEM").click()
        expect(page.locator(".field-error")).to_have_text("Patienten er allerede registreret på afdelingen.")
        page.goto(f"{stack.url('web')}/patienter/soeg")
        page.get_by_label("CPR-nummer", exact=True).check()
        page.get_by_label("Søgetekst").fill("310299-1234")
        page.get_by_role("button", name="Søg").click()
        expect(page.locator(".field-error")).to_have_text("Fødselsdatoen i CPR-nummeret findes ikke.")
        browser.close()


def test_no_log_line_of_any_process_holds_a_cpr(stack, keycloak_realm):
    send_cpr_traffic(stack, keycloak_realm)
    logs = every_log_line(stack)
    # The scan saw the traffic: request lines of each hop that carried a CPR in its body.
    assert any("/patienter/cpr-tjek" in line for line in logs["web"]), "no web request lines"
    assert any("/api/patients/patients/lookup" in line for line in logs["gateway"]), "no gateway request lines"
    assert any('"/patients/lookup"' in line for line in logs["patients"]), "no patients request lines"
    leaks = {name: cpr_leaks(lines) for name, lines in logs.items()}
    assert {name: found for name, found in leaks.items() if found} == {}
    assert sum(len(lines) for lines in logs.values()) > 100
