"""Issue 7 in a real browser (Debian's Chromium through Playwright) against the whole stack: real
Keycloak, the notifications worker delivering to a real SMTP server and an HTTP SMS provider.

A user puts their mobile number on their profile ("Ret brugerprofil" → "Ret mine oplysninger" →
"Gem ændringer"), gets locked out by wrong passwords, and resets the password by SMS code from the
"Glemt adgangskode?" link ("Skift adgangskode" → code to the phone → "Verificer koden" → new
password → "Skift adgangskode"), which also lifts the lock. And a welcome link sets a first
password once.
"""
from __future__ import annotations

import random
import re

from playwright.sync_api import expect

from servicekit.testing import wait_for

from .test_browser_login import browser, log_in, page  # noqa: F401  (fixtures)

NEW_PASSWORD = "Helt-ny-kode-2026!"


def random_phone() -> tuple[str, str]:
    """(as typed, E.164) of an invented Danish mobile number."""
    digits = f"{random.randint(20_000_000, 29_999_999)}"
    return f"{digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}", f"+45{digits}"


def sms_to(stack_sms, msisdn: str) -> list[str]:
    return [request.body["message"] for request in list(stack_sms.requests)
            if request.body.get("recipients") == [{"msisdn": msisdn}]]


def code_sent_to(stack_sms, msisdn: str, already: int) -> str:
    wait_for(lambda: len(sms_to(stack_sms, msisdn)) > already, timeout=30, message="the SMS with the code")
    message = sms_to(stack_sms, msisdn)[-1]
    return re.search(r"\b(\d{6})\b", message).group(1)


def lock_out(keycloak_realm, username: str) -> None:
    for _ in range(6):  # faster than Keycloak's quick-login check: locked at once
        keycloak_realm.password_grant(username, "forkert-kode-123")
    user_id = keycloak_realm.admin.get_user_id(username)
    wait_for(lambda: keycloak_realm.admin.get_bruteforce_detection_status(user_id)["disabled"], timeout=10,
             message="the user locked")


def test_phone_on_profile_then_reset_by_sms_code_clears_the_lock(page, stack, keycloak_realm, new_user,  # noqa: F811
                                                                  stack_sms, stack_smtp, tmp_path):
    web = stack.url("web")
    _, user = new_user()
    typed, e164 = random_phone()

    # B1: the phone number on the profile
    log_in(page, stack, keycloak_realm, user)
    page.get_by_role("link", name="Ret brugerprofil").click()
    page.get_by_role("link", name="Ret mine oplysninger").click()
    page.get_by_label("Mobiltelefon").fill("12 34")
    page.get_by_role("button", name="Gem ændringer").click()
    expect(page.get_by_text("Skriv et dansk mobilnummer med 8 cifre")).to_be_visible()
    page.get_by_label("Mobiltelefon").fill(typed)
    page.get_by_role("button", name="Gem ændringer").click()
    expect(page.get_by_text("Dine oplysninger er gemt.")).to_be_visible()
    expect(page.get_by_text(e164)).to_be_visible()
    # the previous channel (the e-mail address: there was no phone before) hears of it
    address = f"{user.username}@example.org"
    wait_for(lambda: any("kontaktoplysninger" in str(m.message["Subject"]) for m in stack_smtp.mails_to(address)),
             timeout=30, message="the notice of the changed phone")
    page.get_by_role("button", name="Log ud").click()
    page.wait_for_url(f"{web}/")

    # blocked by too many wrong passwords
    lock_out(keycloak_realm, user.username)

    # C2: from the login page's link
    page.get_by_role("link", name="Glemt adgangskode?").click()
    page.get_by_label("Brugernavn").fill(user.username)
    page.get_by_role("button", name="Skift adgangskode").click()
    sent_before = len(sms_to(stack_sms, e164))
    page.get_by_role("button", name="Send en engangskode til min mobiltelefon").click()
    code = code_sent_to(stack_sms, e164, sent_before)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    page.get_by_label("Engangskode").fill(wrong)
    page.get_by_role("button", name="Verificer koden").click()
    expect(page.get_by_text("Koden er forkert. Du har 4 forsøg tilbage.")).to_be_visible()
    page.get_by_label("Engangskode").fill(code)
    page.get_by_role("button", name="Verificer koden").click()

    expect(page.get_by_role("heading", name="Vælg en ny adgangskode")).to_be_visible()
    expect(page.get_by_text("Mindst 12 tegn")).to_be_visible()  # the realm's policy, in Danish
    page.get_by_label("Ny adgangskode", exact=True).fill("kort")
    page.get_by_label("Gentag ny adgangskode").fill("kort")
    page.get_by_role("button", name="Skift adgangskode").click()
    expect(page.get_by_text("Adgangskoden er for kort.")).to_be_visible()
    page.get_by_label("Ny adgangskode", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Gentag ny adgangskode").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Skift adgangskode").click()
    expect(page.get_by_role("heading", name="Adgangskoden er gemt")).to_be_visible()
    page.screenshot(path=str(tmp_path / "reset-done.png"))

    # the lock is gone and the new password logs in (Keycloak's own form)
    page.get_by_role("link", name="Log ind").click()
    page.fill("#username", user.username)
    page.fill("#password", NEW_PASSWORD)
    page.click("#kc-login")
    page.wait_for_url(f"{web}/")
    expect(page.get_by_role("link", name="Ret brugerprofil")).to_be_visible()
    # and the notice that the password changed went by e-mail and SMS
    wait_for(lambda: "adgangskode blev ændret" in sms_to(stack_sms, e164)[-1], timeout=30,
             message="the SMS that the password changed")
    wait_for(lambda: any("er ændret" in str(m.message["Subject"]) for m in stack_smtp.mails_to(address)),
             timeout=30, message="the e-mail that the password changed")

    # the reset cannot be replayed: the code page without a request starts over
    page.goto(f"{web}/glemt-adgangskode/kode")
    expect(page.get_by_role("heading", name="Glemt adgangskode")).to_be_visible()


def test_welcome_link_sets_the_first_password_once(page, stack, keycloak_realm, new_user, identity_runtime):  # noqa: F811
    from identity.service import set_password_tokens as tokens

    web = stack.url("web")
    user_id, user = new_user()
    with identity_runtime.uow() as uow:
        issued = tokens.issue(uow.session, user_id, tokens.ACTIVATION, tokens.ACTIVATION_TTL)
        uow.commit()
    page.goto(f"{web}/aktiver/{issued.token}")
    page.wait_for_url(f"{web}/ny-adgangskode")  # the token left the address bar
    expect(page.get_by_role("heading", name="Vælg din adgangskode")).to_be_visible()
    expect(page.get_by_text(user.username, exact=True)).to_be_visible()
    page.get_by_label("Ny adgangskode", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Gentag ny adgangskode").fill(NEW_PASSWORD + "x")
    page.get_by_role("button", name="Skift adgangskode").click()
    expect(page.get_by_text("De to adgangskoder er ikke ens.")).to_be_visible()
    page.get_by_label("Ny adgangskode", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Gentag ny adgangskode").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Skift adgangskode").click()
    expect(page.get_by_role("heading", name="Adgangskoden er gemt")).to_be_visible()
    assert keycloak_realm.password_grant(user.username, NEW_PASSWORD).status_code == 200

    page.goto(f"{web}/aktiver/{issued.token}")  # single use
    expect(page.get_by_role("heading", name="Linket kan ikke bruges")).to_be_visible()
    assert issued.token not in stack.log("web")  # the link's token is not in the access log
