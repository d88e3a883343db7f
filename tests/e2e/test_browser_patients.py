"""Patients in a real browser against the real stack (patients, identity with Keycloak, the gateway,
the web UI), by the Danish labels users see: E1 (create a patient; "registered elsewhere" → choose
the department(s) → "GEM" → transfer request), E2 ("Patienttavle Graf" → "Overblik" → "Request to
import") and F1 (app-integration page, "Patientens kiosk status"), plus the transfer decisions and
in-app notices in between.

Two clinicians: the demo clinician of Reumatologisk Afdeling C (Odense) and a new one of Led-,
Bindevævs- og Rygsygdomme (Aarhus). CPR numbers are generated for each run: a birth date that is
not 1 January and a failing modulus-11 check — a combination never issued, so never a real person.
"""
from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from tests.e2e.test_browser_login import CHROMIUM_ARGS, CLINICIAN

ODENSE = "Reumatologisk Afdeling C, Odense Universitetshospital"
AARHUS = "Led-, Bindevævs- og Rygsygdomme, Aarhus Universitetshospital"
WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)
USED_CPRS: list[str] = []   # every number these tests typed: the log scan looks for them too


def invented_cpr() -> str:
    """DDMMYY-SSSS, born 1950–1999 (not on 1 January), failing modulus 11: never issued."""
    while True:
        born = date(1950, 1, 2) + timedelta(days=random.randrange(0, 18000))
        if born.year > 1999 or (born.month, born.day) == (1, 1):
            continue
        digits = born.strftime("%d%m%y") + str(random.randrange(0, 4)) + f"{random.randrange(0, 1000):03d}"
        if sum(int(d) * w for d, w in zip(digits, WEIGHTS)) % 11:
            USED_CPRS.append(f"{digits[:6]}-{digits[6:]}")
            return USED_CPRS[-1]


def masked(cpr: str) -> str:
    return f"{cpr[:6]}-xxxx"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def aarhus_clinician(stack, identity_runtime, user_directory):
    """A clinician of Led-, Bindevævs- og Rygsygdomme, Aarhus (the other side of each transfer)."""
    from identity.service.seed import wait_for_department
    from tests.e2e.conftest import user_factory

    department = wait_for_department(identity_runtime.uow, "AUH-LBR", timeout=60)
    _user_id, login = user_factory(identity_runtime, user_directory)(
        memberships={department.hospital_id: "clinician"}, departments=frozenset({department.id}))
    return login


def log_in(page, stack, _keycloak_realm, user) -> None:
    """Straight to the login (Keycloak's password form), back on the front page: the landing
    page's own links are test_browser_login's business."""
    web = stack.url("web")
    page.goto(f"{web}/login")
    page.fill("#username", user.username)
    page.fill("#password", user.password)
    page.click("#kc-login")
    page.wait_for_url(f"{web}/")


def new_page(browser, *, javascript: bool = True):
    context = browser.new_context(locale="da-DK", viewport={"width": 1400, "height": 1000},
                                  java_script_enabled=javascript)
    return context.new_page()


@pytest.fixture
def odense(browser, stack, keycloak_realm):
    page = new_page(browser)
    log_in(page, stack, keycloak_realm, CLINICIAN)
    yield page
    page.context.close()


@pytest.fixture
def aarhus(browser, stack, keycloak_realm, aarhus_clinician):
    page = new_page(browser)
    log_in(page, stack, keycloak_realm, aarhus_clinician)
    yield page
    page.context.close()


class Api:
    """The gateway as one user, for setting up what the pages then show."""

    def __init__(self, gateway: str, token: str):
        self.gateway, self.headers = gateway, {"Authorization": f"Bearer {token}"}

    def department_id(self) -> str:
        [department] = self.get("/departments", params={"mine": "true"})
        return department["id"]

    def get(self, path: str, **kwargs):
        response = requests.get(f"{self.gateway}/api/patients{path}", headers=self.headers, timeout=10, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def create(self, cpr: str, name: str, diagnosis_group: str = "RA") -> dict:
        response = requests.post(f"{self.gateway}/api/patients/patients", headers=self.headers, timeout=10, json={
            "cpr": cpr, "name": name, "diagnosis_group": diagnosis_group, "department_id": self.department_id()})
        assert response.status_code == 201, response.text
        return response.json()


def api_as(stack, keycloak_realm, user) -> Api:
    return Api(stack.url("gateway"), keycloak_realm.user_token(user.username, user.password)["access_token"])


def flash(page):
    return page.locator(".flash")


def menu_link(page, name: str):
    return page.locator("nav.menu").get_by_role("link", name=name, exact=True)


# --- E1 ------------------------------------------------------------------------------------------

def test_e1_create_a_patient_registered_elsewhere_requests_the_transfer(odense, aarhus, stack, keycloak_realm,
                                                                         aarhus_clinician, tmp_path):
    cpr = invented_cpr()
    api_as(stack, keycloak_realm, aarhus_clinician).create(cpr, "Henrik Overflytter", "PsA")

    menu_link(odense, "Opret patient").click()
    expect(odense.get_by_role("heading", name="Opret patient")).to_be_visible()
    odense.get_by_label("CPR-nummer").press_sequentially(cpr.replace("-", ""))
    # As soon as the tenth digit is typed (the script asks by POST): where the patient is registered.
    message = odense.locator("#cpr-message")
    expect(message).to_contain_text("allerede registreret på anden afdeling")
    expect(message).to_contain_text(AARHUS)
    assert cpr not in odense.url and cpr.replace("-", "") not in odense.url
    odense.screenshot(path=str(tmp_path / "opret-patient.png"), full_page=True)
    odense.get_by_label("Navn").fill("Henrik Overflytter")
    odense.get_by_label("Diagnosegruppe").select_option("PsA")
    odense.get_by_role("button", name="GEM").click()

    # Choose the department(s) to transfer from → "GEM".
    expect(odense.get_by_role("heading", name="Anmod om overførsel")).to_be_visible()
    expect(odense.get_by_text(masked(cpr))).to_be_visible()
    expect(odense.get_by_text(f"Overføres til: {ODENSE}")).to_be_visible()
    source = odense.get_by_label(AARHUS)
    expect(source).to_be_checked()
    odense.get_by_role("button", name="GEM").click()
    expect(flash(odense)).to_contain_text("Anmodningen om overførsel")
    expect(flash(odense)).to_contain_text(AARHUS)
    outgoing = odense.locator("#outgoing tr", has_text=masked(cpr))
    expect(outgoing).to_contain_text("Afventer")
    # The requester does not see the name until the patient is theirs.
    expect(outgoing).not_to_contain_text("Henrik Overflytter")

    # The source department hears of it in DANBIO (no e-mail) and approves.
    menu_link(aarhus, "Meddelelser").click()
    expect(aarhus.locator(".notice-item", has_text=masked(cpr))).to_contain_text(
        f"{ODENSE} anmoder om at overtage patienten")
    menu_link(aarhus, "Overførsler").click()
    incoming = aarhus.locator("#incoming tr", has_text=masked(cpr))
    expect(incoming).to_contain_text("Henrik Overflytter")
    incoming.get_by_role("button", name="Godkend").click()
    expect(flash(aarhus)).to_contain_text(f"Overførslen er godkendt. Patienten er nu registreret på {ODENSE}.")

    # Now the patient is Odense's: found by CPR (exact), masked in the list, full on the patient page.
    menu_link(odense, "Meddelelser").click()
    expect(odense.locator(".notice-item", has_text=masked(cpr))).to_contain_text("har godkendt overførslen")
    menu_link(odense, "Søg patient").click()
    odense.get_by_label("CPR-nummer", exact=True).check()
    odense.get_by_label("Søgetekst").fill(cpr)
    odense.get_by_role("button", name="Søg").click()
    row = odense.locator("#search-results tr", has_text="Henrik Overflytter")
    expect(row).to_contain_text(masked(cpr))
    expect(odense.locator("#search-results")).not_to_contain_text(cpr)
    row.get_by_role("link", name="Henrik Overflytter").click()
    expect(odense.get_by_role("heading", name="Henrik Overflytter")).to_be_visible()
    expect(odense.locator("dd.cpr")).to_have_text(cpr)
    expect(odense.get_by_text("Tidligere registreringer")).to_be_visible()
    expect(odense.locator("table.patients")).to_contain_text("Overført")
    assert re.search(r"/patienter/[0-9a-f-]{36}$", odense.url), odense.url


def test_e1_a_new_patient_without_javascript(browser, stack, keycloak_realm):
    """The form works without the script: "Tjek CPR-nummer" asks, "GEM" creates."""
    page = new_page(browser, javascript=False)
    try:
        log_in(page, stack, keycloak_realm, CLINICIAN)
        page.goto(f"{stack.url('web')}/patienter/opret")
        cpr = invented_cpr()
        page.get_by_label("CPR-nummer").fill(cpr)
        page.get_by_role("button", name="Tjek CPR-nummer").click()
        expect(page.locator("#cpr-message")).to_have_text("Patienten er ikke registreret på nogen afdeling i DANBIO.")
        assert cpr not in page.url
        page.get_by_label("Navn").fill("Inge Nyoprettet")
        page.get_by_label("Diagnosegruppe").select_option("axSpA")
        page.get_by_role("button", name="GEM").click()
        expect(flash(page)).to_have_text(f"Patienten Inge Nyoprettet ({masked(cpr)}) er oprettet.")
        expect(page.locator("dd.cpr")).to_have_text(cpr)

        # The same CPR again: a Danish error, nothing created twice.
        page.goto(f"{stack.url('web')}/patienter/opret")
        page.get_by_label("CPR-nummer").fill(cpr)
        page.get_by_label("Navn").fill("Inge Nyoprettet")
        page.get_by_label("Diagnosegruppe").select_option("axSpA")
        page.get_by_role("button", name="GEM").click()
        expect(page.locator(".field-error")).to_have_text("Patienten er allerede registreret på afdelingen.")
        # A date that does not exist, and a form left empty.
        page.get_by_label("CPR-nummer").fill("310299-1234")
        page.get_by_role("button", name="Tjek CPR-nummer").click()
        expect(page.locator(".field-error")).to_have_text("Fødselsdatoen i CPR-nummeret findes ikke.")
        page.get_by_label("CPR-nummer").fill("")
        page.get_by_label("Navn").fill("")
        page.get_by_label("Diagnosegruppe").select_option("")
        page.get_by_role("button", name="GEM").click()
        expect(page.locator(".field-error")).to_have_text(["Skal udfyldes."] * 3)
    finally:
        page.context.close()


# --- E2 ------------------------------------------------------------------------------------------

def test_e2_board_overblik_request_to_import_and_a_rejection(odense, aarhus, stack, keycloak_realm,
                                                              aarhus_clinician, tmp_path):
    cpr = invented_cpr()
    api_as(stack, keycloak_realm, aarhus_clinician).create(cpr, "Lise Importsen", "RA")
    odense_api = api_as(stack, keycloak_realm, CLINICIAN)
    board = odense_api.get(f"/departments/{odense_api.department_id()}/board")

    menu_link(odense, "Patienttavle Graf").click()
    expect(odense.get_by_role("heading", name="Patienttavle Graf")).to_be_visible()
    expect(odense.locator(".department-line")).to_contain_text(f"{ODENSE} – {board['total']} patienter")
    chart = odense.locator("figure.board-chart svg")
    expect(chart).to_be_visible()
    # The chart and the table show the service's counts.
    drawn = sum(int(rect.get_attribute("data-count")) for rect in chart.locator("rect[data-count]").all())
    assert drawn == board["total"]
    expect(odense.locator("table.board tfoot")).to_contain_text(str(board["total"]))
    odense.screenshot(path=str(tmp_path / "patienttavle.png"), full_page=True)

    odense.get_by_role("link", name="Overblik").click()
    expect(odense.get_by_role("heading", name="Overblik")).to_be_visible()
    odense.get_by_role("link", name="Request to import").click()
    expect(odense.get_by_role("heading", name="Request to import")).to_be_visible()
    odense.get_by_label("CPR-nummer").fill(invented_cpr())
    odense.get_by_role("button", name="Find patient").click()
    expect(odense.locator(".field-error")).to_have_text("Der er ingen patient med dette CPR-nummer i DANBIO.")
    odense.get_by_label("CPR-nummer").fill(cpr)
    odense.get_by_role("button", name="Find patient").click()
    expect(odense.get_by_role("heading", name="Anmod om overførsel")).to_be_visible()
    odense.get_by_role("button", name="GEM").click()
    expect(flash(odense)).to_contain_text("Anmodningen om overførsel")

    # Asking twice: a Danish refusal, one open request.
    odense.goto(f"{stack.url('web')}/afdelinger/{odense_api.department_id()}/import")
    odense.get_by_label("CPR-nummer").fill(cpr)
    odense.get_by_role("button", name="Find patient").click()
    odense.get_by_role("button", name="GEM").click()
    expect(odense.locator(".form-errors")).to_have_text(
        "Der er allerede en ventende anmodning om overførsel af patienten fra den afdeling.")

    # Aarhus rejects — a reason is required — and Odense is told why.
    menu_link(aarhus, "Overførsler").click()
    incoming = aarhus.locator("#incoming tr", has_text=masked(cpr))
    incoming.get_by_role("button", name="Afvis").click()
    expect(flash(aarhus)).to_have_text("Skriv en begrundelse for at afvise anmodningen.")
    incoming = aarhus.locator("#incoming tr", has_text=masked(cpr))
    incoming.get_by_label("Begrundelse for afvisning").fill("Patienten fortsætter behandlingen i Aarhus.")
    incoming.get_by_role("button", name="Afvis").click()
    expect(flash(aarhus)).to_have_text(f"Anmodningen fra {ODENSE} er afvist.")

    menu_link(odense, "Meddelelser").click()
    notice = odense.locator(".notice-item", has_text=masked(cpr))
    expect(notice).to_contain_text("har afvist overførslen")
    expect(notice).to_contain_text("Patienten fortsætter behandlingen i Aarhus.")
    notice.get_by_role("button", name="Markér som set").click()
    expect(flash(odense)).to_have_text("Meddelelsen er markeret som set.")
    expect(odense.locator(".notice-item", has_text=masked(cpr))).to_have_count(0)


def test_the_requester_cancels(odense, stack, keycloak_realm, aarhus_clinician):
    cpr = invented_cpr()
    api_as(stack, keycloak_realm, aarhus_clinician).create(cpr, "Ole Fortryder", "other")
    department_id = api_as(stack, keycloak_realm, CLINICIAN).department_id()
    odense.goto(f"{stack.url('web')}/afdelinger/{department_id}/import")
    odense.get_by_label("CPR-nummer").fill(cpr)
    odense.get_by_role("button", name="Find patient").click()
    odense.get_by_role("button", name="GEM").click()
    outgoing = odense.locator("#outgoing tr", has_text=masked(cpr))
    outgoing.get_by_role("button", name="Træk anmodning tilbage").click()
    expect(flash(odense)).to_have_text("Anmodningen er trukket tilbage.")
    odense.locator("select#status").select_option("cancelled")  # "Vis" is also in "afvisning"
    odense.get_by_role("button", name="Vis", exact=True).click()
    expect(odense.locator("#outgoing tr", has_text=masked(cpr))).to_contain_text("Annulleret")


# --- F1 ------------------------------------------------------------------------------------------

def test_f1_app_integration_and_patientens_kiosk_status(odense, stack, keycloak_realm, tmp_path):
    cpr = invented_cpr()
    created = api_as(stack, keycloak_realm, CLINICIAN).create(cpr, "Åse Appbruger", "RA")
    platform = keycloak_realm.client_token("patient-platform", keycloak_realm.secrets["DANBIO_KC_PLATFORM_SECRET"])
    now = datetime.now(timezone.utc)
    for status, at in (("inactive", now - timedelta(hours=2)), ("active", now - timedelta(minutes=5))):
        report = requests.post(f"{stack.url('gateway')}/api/patients/platform/status", timeout=10,
                               headers={"Authorization": f"Bearer {platform['access_token']}"},
                               json={"cpr": cpr, "status": status, "reported_at": at.isoformat()})
        assert report.status_code == 200, report.text

    menu_link(odense, "App-integration").click()
    expect(odense.get_by_role("heading", name="App-integration")).to_be_visible()
    odense.get_by_label("Status").select_option("active")
    odense.get_by_role("button", name="Vis", exact=True).click()
    row = odense.locator("#app-integration tr", has_text="Åse Appbruger")
    expect(row).to_contain_text("Aktiv")
    expect(row).to_contain_text(masked(cpr))
    odense.get_by_label("Status").select_option("inactive")
    odense.get_by_role("button", name="Vis", exact=True).click()
    expect(odense.locator("#app-integration tr", has_text="Åse Appbruger")).to_have_count(0)

    odense.goto(f"{stack.url('web')}/patienter/{created['id']}")
    expect(odense.get_by_role("heading", name="Åse Appbruger")).to_be_visible()
    menu_link(odense, "Patientens kiosk status").click()
    expect(odense.get_by_role("heading", name="Patientens kiosk status")).to_be_visible()
    expect(odense.locator(".kiosk-status")).to_contain_text("Aktiv")
    history = odense.locator("#kiosk-history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("Aktiv")
    expect(history.nth(1)).to_contain_text("Inaktiv")
    odense.screenshot(path=str(tmp_path / "kiosk-status.png"), full_page=True)


def test_someone_elses_patient_is_not_found(aarhus, stack, keycloak_realm):
    created = api_as(stack, keycloak_realm, CLINICIAN).create(invented_cpr(), "Bo Privat", "RA")
    aarhus.goto(f"{stack.url('web')}/patienter/{created['id']}")
    expect(aarhus.get_by_role("heading", name="Findes ikke")).to_be_visible()
    aarhus.goto(f"{stack.url('web')}/patienter/{created['id']}/kiosk-status")
    expect(aarhus.get_by_role("heading", name="Findes ikke")).to_be_visible()
    # Name search covers own departments only.
    aarhus.goto(stack.url("web"))
    menu_link(aarhus, "Søg patient").click()
    aarhus.get_by_label("Søgetekst").fill("Bo Privat")
    aarhus.get_by_role("button", name="Søg").click()
    expect(aarhus.get_by_text("Ingen patienter fundet på dine afdelinger.")).to_be_visible()


def test_the_cpr_check_needs_the_form_token(odense, stack):
    """A POST without the CSRF token is refused, in Danish; a GET does not exist (no CPR in a URL)."""
    cookie = next(c for c in odense.context.cookies() if c["name"] == "danbio_session")["value"]
    refused = requests.post(f"{stack.url('web')}/patienter/cpr-tjek", data={"cpr": invented_cpr()},
                            cookies={"danbio_session": cookie}, timeout=10, allow_redirects=False)
    assert refused.status_code == 400 and "Formularen er udløbet" in refused.text
    assert requests.get(f"{stack.url('web')}/patienter/cpr-tjek", cookies={"danbio_session": cookie},
                        timeout=10, allow_redirects=False).status_code == 405
