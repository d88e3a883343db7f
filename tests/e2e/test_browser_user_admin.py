"""BRUGERADMINISTRATION in a real browser against the real stack (identity with Keycloak, the
gateway, the web UI): requirements A1 to A5 walked by the Danish labels a local administrator sees,
as the user guide describes them."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from servicekit.testing import wait_for
from identity.service.seed import DEMO_USERS
from tests.e2e.test_browser_login import CHROMIUM_ARGS, LOCAL_ADMIN

REVIEW_BUTTON = "Tryk på denne knap for at dokumentere brugergennemgang d.d."
OUH_DEPARTMENT = "OUH-REU-C"        # Reumatologisk Afdeling C, the demo administrator's hospital
OTHER_DEPARTMENT = "AUH-LBR"        # Aarhus Universitetshospital
REGISTRY_ADMIN = next(user for user in DEMO_USERS if user.registry_admin)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def logged_in_page(browser, stack, user):
    context = browser.new_context(locale="da-DK", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    # Straight to the web UI's /login (the landing page and its login choices are tested in
    # test_browser_login.py), then Keycloak's password form.
    page.goto(f"{stack.url('web')}/login")
    page.fill("#username", user.username)
    page.fill("#password", user.password)
    page.click("#kc-login")
    page.wait_for_url(f"{stack.url('web')}/")
    return page


@pytest.fixture
def page(browser, stack):
    """A browser page logged in as the demo local administrator of Odense Universitetshospital."""
    page = logged_in_page(browser, stack, LOCAL_ADMIN)
    yield page
    page.context.close()


def department(identity_runtime, code: str):
    from identity.adapters import department_repository

    with identity_runtime.uow() as uow:
        return department_repository.get_by_code(uow.session, code)


def open_user_administration(page):
    page.locator("nav .menu-bottom").get_by_role("link", name="Brugere").click()
    expect(page.get_by_role("heading", name="Brugere", exact=True)).to_be_visible()
    expect(page.locator(".hospital-name")).to_have_text("Odense Universitetshospital")


def subnav(page, name: str) -> None:
    page.get_by_role("navigation", name="Brugeradministration").get_by_role("link", name=name, exact=True).click()


def flash(page):
    return page.locator(".flash")


def test_a1_opret_bruger_with_danish_field_errors_then_created(page, keycloak_realm, tmp_path):
    username = f"ny-{uuid.uuid4().hex[:8]}"
    open_user_administration(page)
    page.get_by_role("link", name="Opret bruger").click()
    expect(page.get_by_role("heading", name="Opret bruger")).to_be_visible()
    page.get_by_label("Brugernavn").fill(username)
    page.get_by_label("Fornavn").fill("Søren")
    page.get_by_label("Efternavn").fill("Ærø-Østergård")
    page.get_by_label("E-mail").fill("ikke-en-adresse")
    page.get_by_label("Telefon (valgfri)").fill("12 34")
    page.get_by_label("Rolle").select_option(label="Kliniker")
    page.get_by_role("button", name="Opret bruger").click()

    # Refused: Danish messages next to their fields, what was typed still there.
    expect(page.locator("#email-error")).to_have_text("E-mailadressen er ikke gyldig.")
    expect(page.locator("#phone-error")).to_contain_text("dansk nummer")
    expect(page.locator("#departments-error")).to_have_text("Vælg mindst én afdeling.")
    expect(page.get_by_label("Brugernavn")).to_have_value(username)
    expect(page.get_by_label("Efternavn")).to_have_value("Ærø-Østergård")
    expect(page.get_by_label("Telefon (valgfri)")).to_have_value("12 34")
    assert keycloak_realm.admin.get_user_id(username) is None  # nothing half-made
    page.screenshot(path=str(tmp_path / "opret-bruger-fejl.png"), full_page=True)

    page.get_by_label("E-mail").fill(f"{username}@example.org")
    page.get_by_label("Telefon (valgfri)").fill("+45 20 12 34 56")
    page.get_by_label("Reumatologisk Afdeling C").check()
    page.get_by_role("button", name="Opret bruger").click()

    expect(flash(page)).to_contain_text(f"Brugeren {username} er oprettet")
    expect(page.get_by_role("heading", name="Søren Ærø-Østergård")).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Reumatologisk Afdeling C")
    expect(facts).to_contain_text("Aldrig logget ind")
    expect(page.locator("table.audit")).to_contain_text("Oprettet")
    # A Keycloak user without a password: the welcome e-mail's link lets the user choose one.
    keycloak_id = keycloak_realm.admin.get_user_id(username)
    assert keycloak_id and not [c for c in keycloak_realm.admin.get_credentials(keycloak_id) if c["type"] == "password"]

    # G: the list finds the user by part of the name, with the columns of the list.
    subnav(page, "Brugere")
    page.get_by_label("Søg").fill("østergård")
    page.get_by_role("button", name="Filtrér").click()
    row = page.locator("table.users tbody tr", has_text=username)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Reumatologisk Afdeling C")
    expect(row).to_contain_text("Aldrig")


def test_a2_avanceret_adds_a_user_of_another_hospital_and_a3_removes_the_department(
        page, stack, keycloak_realm, identity_runtime, new_user):
    other = department(identity_runtime, OTHER_DEPARTMENT)
    user_id, login = new_user(memberships={other.hospital_id: "clinician"}, departments={other.id})

    open_user_administration(page)
    page.get_by_role("link", name="Opret bruger").click()
    page.get_by_role("link", name="AVANCERET").click()
    expect(page.get_by_role("heading", name="AVANCERET")).to_be_visible()
    page.get_by_label("Brugernavn eller e-mail").fill(login.username[2:].upper())  # partial, any case
    page.get_by_role("button", name="Søg").click()
    row = page.locator("table.users tbody tr", has_text=login.username)
    expect(row).to_contain_text("Aarhus Universitetshospital")
    row.get_by_role("button", name="Tilføj bruger til eget hospital").click()

    expect(page.get_by_role("heading", name="Tilføj bruger til eget hospital")).to_be_visible()
    page.get_by_label("Reumatologisk Afdeling C").check()
    page.get_by_role("button", name="Tilføj bruger til eget hospital").click()
    expect(flash(page)).to_contain_text("er tilføjet til Odense Universitetshospital")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Aarhus Universitetshospital")  # keeps the access elsewhere
    expect(facts).to_contain_text("Odense Universitetshospital")
    expect(page.locator("table.audit")).to_contain_text("Tilføjet til hospital")
    assert len(keycloak_realm.admin.get_users({"username": login.username, "exact": True})) == 1  # no second user

    token = keycloak_realm.user_token(login.username, login.password)["access_token"]

    def hospitals_at_gateway() -> set[str]:
        me = requests.get(f"{stack.url('gateway')}/api/identity/me", headers={"Authorization": f"Bearer {token}"},
                          timeout=10).json()
        return {membership["hospital"]["name"] for membership in me["memberships"]}

    assert hospitals_at_gateway() == {"Aarhus Universitetshospital", "Odense Universitetshospital"}

    # A3: "Rediger bruger" → untick the department → "Gem ændringer".
    page.get_by_role("link", name="Rediger bruger").click()
    expect(page.get_by_role("heading", name="Rediger bruger")).to_be_visible()
    department_box = page.get_by_label("Reumatologisk Afdeling C")
    expect(department_box).to_be_checked()
    department_box.uncheck()
    page.get_by_role("button", name="Gem ændringer").click()
    expect(flash(page)).to_contain_text("er fjernet fra hospitalet")
    expect(page.locator("table.users")).not_to_contain_text(login.username)
    wait_for(lambda: hospitals_at_gateway() == {"Aarhus Universitetshospital"}, timeout=5,
             message="the access removed at Odense, kept at Aarhus")


def test_a3_a4_remove_access_then_document_the_review(page, tmp_path, identity_runtime, new_user):
    ouh = department(identity_runtime, OUH_DEPARTMENT)
    _, leaver = new_user(memberships={ouh.hospital_id: "clinician"}, departments={ouh.id})
    open_user_administration(page)
    # A3: find the user who should no longer have access, "Rediger bruger", untick, "Gem ændringer".
    page.get_by_label("Søg").fill(leaver.username)
    page.get_by_role("button", name="Filtrér").click()
    page.locator("table.users tbody tr", has_text=leaver.username).get_by_role("link").click()
    page.get_by_role("link", name="Rediger bruger").click()
    page.get_by_label("Reumatologisk Afdeling C").uncheck()
    page.get_by_role("button", name="Gem ændringer").click()
    expect(flash(page)).to_contain_text("er fjernet fra hospitalet")

    # A4: document the review; the history shows the access removed since the previous one.
    subnav(page, "Brugergennemgang")
    expect(page.get_by_role("heading", name="Brugergennemgang", exact=True)).to_be_visible()
    page.get_by_role("button", name=REVIEW_BUTTON).click()
    expect(flash(page)).to_contain_text("er dokumenteret i dag")
    today = datetime.now(ZoneInfo("Europe/Copenhagen")).strftime("%d.%m.%Y")
    summary = page.locator("dl.review-summary")
    expect(summary).to_contain_text(f"{today} af {LOCAL_ADMIN.first_name} {LOCAL_ADMIN.last_name}")
    expect(page.get_by_text("Brugergennemgang overskredet")).to_have_count(0)
    latest = page.locator("table.reviews tbody tr").first
    expect(latest).to_contain_text(today)
    expect(latest).to_contain_text(f"{LOCAL_ADMIN.first_name} {LOCAL_ADMIN.last_name}")
    expect(latest).to_contain_text(f"({leaver.username}): Reumatologisk Afdeling C")
    page.screenshot(path=str(tmp_path / "brugergennemgang.png"), full_page=True)


def test_a5_nulstil_kode_unlocks_a_blocked_user(page, stack, keycloak_realm, identity_runtime, new_user, tmp_path):
    ouh = department(identity_runtime, OUH_DEPARTMENT)
    user_id, login = new_user(memberships={ouh.hospital_id: "clinician"}, departments={ouh.id})
    # Wrong passwords lock the user (Keycloak's brute-force detection): two within its quick-login
    # check do, and the realm's fifth failure does in any case.
    def locked() -> bool:
        return keycloak_realm.admin.get_bruteforce_detection_status(login.id)["disabled"]

    for _ in range(5):
        assert keycloak_realm.password_grant(login.username, "forkert-kode-123").status_code == 401
        if locked():
            break
    wait_for(locked, timeout=5, message="the user locked")

    open_user_administration(page)
    # G: the list filtered by status shows the blocked user.
    page.get_by_label("Status").select_option(label="Spærret")
    page.get_by_role("button", name="Filtrér").click()
    expect(page.locator("table.users tbody tr", has_text=login.username)).to_contain_text("Spærret")

    subnav(page, "Spærrede brugere")
    row = page.locator("table.users tbody tr", has_text=login.username)
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Nulstil kode").click()
    expect(flash(page)).to_contain_text("Spærringen er ophævet")
    expect(page.locator("table.users tbody tr", has_text=login.username)).to_have_count(0)
    assert not keycloak_realm.admin.get_bruteforce_detection_status(login.id)["disabled"]
    subnav(page, "Brugere")
    page.get_by_label("Søg").fill(login.username)
    page.get_by_role("button", name="Filtrér").click()
    page.locator("table.users tbody tr", has_text=login.username).get_by_role("link").click()
    expect(page.locator("table.audit")).to_contain_text("Spærring ophævet")
    page.screenshot(path=str(tmp_path / "bruger.png"), full_page=True)


def test_registry_administrator_chooses_any_hospital_and_a_local_one_only_their_own(browser, page, stack,
                                                                                   identity_runtime, tmp_path):
    aarhus = department(identity_runtime, OTHER_DEPARTMENT)
    # The local administrator of Odense: Aarhus's users are refused, in Danish.
    page.goto(f"{stack.url('web')}/brugere/{aarhus.hospital_id}")
    expect(page.get_by_role("heading", name="Ingen adgang")).to_be_visible()
    page.goto(stack.url("web"))
    open_user_administration(page)
    expect(page.get_by_label("Vælg hospital")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "brugere.png"), full_page=True)

    registry = logged_in_page(browser, stack, REGISTRY_ADMIN)
    try:
        registry.locator("nav .menu-bottom").get_by_role("link", name="Brugere").click()
        registry.get_by_label("Vælg hospital").select_option(label="Aarhus Universitetshospital")
        registry.get_by_role("button", name="Vis", exact=True).click()
        expect(registry.locator(".hospital-name")).to_have_text("Aarhus Universitetshospital")
        expect(registry.get_by_label("Afdeling")).to_contain_text("Led-, Bindevævs- og Rygsygdomme")
    finally:
        registry.context.close()


def test_failed_welcome_email_asks_for_a_phone_number_and_the_administrator_adds_it(page, e2e_broker_url, identity_runtime, new_user):
    """notifications reports the welcome e-mail failed (a real event on the stack's broker, consumed
    by identity's worker): the administrator sees "E-mail fejlet" and is asked for a phone number."""
    from identity.adapters import admin_repository
    from servicekit.events import new_event
    from servicekit.messaging.broker import ConfirmingPublisher, OutgoingMessage, connect

    ouh = department(identity_runtime, OUH_DEPARTMENT)
    user_id, login = new_user(memberships={ouh.hospital_id: "clinician"}, departments={ouh.id})
    event = new_event("notifications.delivery.failed", {
        "delivery_id": str(uuid.uuid4()), "event_id": str(uuid.uuid4()), "event_type": "identity.user.created",
        "purpose": "welcome", "channel": "email", "recipient": "t***@example.org", "user_id": str(user_id),
        "attempts": 3, "failed_at": datetime.now(timezone.utc).isoformat(), "permanent": True,
        "reason": "550 mailbox unavailable"}, producer="notifications")
    publisher = ConfirmingPublisher(connect(e2e_broker_url), retry_delays_ms=(50, 100, 200))
    try:
        publisher.publish([OutgoingMessage(str(event.id), event.type, event.to_json())])
    finally:
        publisher.connection.release()

    def marked() -> bool:
        with identity_runtime.uow() as uow:
            status = admin_repository.email_status(uow.session, user_id)
        return bool(status and status.email_failed)

    wait_for(marked, timeout=10, message="identity to mark the welcome e-mail as failed")
    open_user_administration(page)
    page.get_by_label("Status").select_option(label="E-mail fejlet")
    page.get_by_role("button", name="Filtrér").click()
    row = page.locator("table.users tbody tr", has_text=login.username)
    expect(row).to_contain_text("E-mail fejlet")
    expect(row).to_contain_text("Tilføj brugerens telefonnummer")
    row.get_by_role("link").click()
    expect(page.get_by_role("alert")).to_contain_text("E-mail fejlet")
    expect(page.get_by_role("alert")).to_contain_text("Tilføj brugerens telefonnummer")

    # The administrator adds the number right there; a typo is refused in Danish first.
    page.get_by_label("Telefon", exact=True).fill("12 34")
    page.get_by_role("button", name="Gem telefonnummer").click()
    expect(page.locator("#phone-error")).to_contain_text("Telefonnummeret er ikke gyldigt")
    page.get_by_label("Telefon", exact=True).fill("20 12 34 56")
    page.get_by_role("button", name="Gem telefonnummer").click()
    expect(flash(page)).to_have_text("Telefonnummeret er gemt.")
    expect(page.locator("dl.facts")).to_contain_text("Oplyst")
    expect(page.get_by_role("alert")).not_to_contain_text("Tilføj brugerens telefonnummer")
    expect(page.locator("table.audit")).to_contain_text("Telefonnummer ændret")
