"""Issue 7 / requirement C2 in a real browser (Debian's Chromium through Playwright): Keycloak's login
page, reached from the web UI's "Log ind", ends with the blue link "Glemt adgangskode?" (realm
danbio's login theme, deploy/keycloak/themes/danbio), and the link opens the web UI's password reset
by SMS code (the rest of that flow: test_browser_password_reset.py). Also after a failed login, where
a user who forgot the password is."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from .test_browser_login import browser, page  # noqa: F401  (fixtures)


def rgb(css_color: str) -> tuple[int, int, int]:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_color)[:3])
    return red, green, blue


def open_keycloak_login(page, stack, keycloak_realm) -> None:  # noqa: F811
    page.goto(stack.url("web"))
    page.get_by_role("link", name="Log ind").click()
    page.wait_for_url(re.compile(re.escape(keycloak_realm.issuer) + r"/protocol/openid-connect/auth.*"))
    expect(page.locator("html")).to_have_attribute("lang", "da")


def test_keycloak_login_page_ends_with_blue_reset_link_to_web_ui(page, stack, keycloak_realm, tmp_path):  # noqa: F811
    web = stack.url("web")
    open_keycloak_login(page, stack, keycloak_realm)
    link = page.get_by_role("link", name="Glemt adgangskode?")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"{web}/glemt-adgangskode")

    # At the bottom: below the form's "Log ind" button and everything else in the login box.
    form_bottom = page.locator("#kc-login").bounding_box()
    link_box = link.bounding_box()
    assert link_box["y"] >= form_bottom["y"] + form_bottom["height"], (link_box, form_bottom)
    lowest = page.locator("main a:visible, main button:visible, main input:visible").evaluate_all(
        "elements => Math.max(...elements.map(e => e.getBoundingClientRect().bottom))")
    assert link_box["y"] + link_box["height"] >= lowest - 1, "something in the login box is below the link"
    # Blue, as in the guide.
    red, green, blue = rgb(link.evaluate("element => getComputedStyle(element).color"))
    assert blue > 150 and blue > red + 80 and blue > green + 40, (red, green, blue)
    # Keycloak's own e-mail reset is off: this is the only way to reset.
    expect(page.locator("a[href*='reset-credentials']")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "keycloak-login.png"))

    link.click()
    page.wait_for_url(f"{web}/glemt-adgangskode")
    expect(page.get_by_role("heading", name="Glemt adgangskode")).to_be_visible()
    expect(page.get_by_role("button", name="Skift adgangskode")).to_be_visible()


def test_reset_link_is_there_after_a_failed_login(page, stack, keycloak_realm):  # noqa: F811
    web = stack.url("web")
    open_keycloak_login(page, stack, keycloak_realm)
    page.fill("#username", "ingensbrugernavn")
    page.fill("#password", "forkert-kode-123")
    page.click("#kc-login")
    expect(page.locator("#input-error-username")).to_contain_text("Ugyldig brugernavn eller adgangskode")
    page.get_by_role("link", name="Glemt adgangskode?").click()
    page.wait_for_url(f"{web}/glemt-adgangskode")
    expect(page.get_by_role("heading", name="Glemt adgangskode")).to_be_visible()
