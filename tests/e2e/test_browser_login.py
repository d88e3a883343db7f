"""Logging in and out of the web UI in a real browser (Debian's Chromium through Playwright), with
the real Keycloak login page, by the Danish labels users see."""
from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from identity.service.seed import DEMO_USERS

LOCAL_ADMIN = next(user for user in DEMO_USERS if user.hospital_role == "local_admin")
CLINICIAN = next(user for user in DEMO_USERS if user.hospital_role == "clinician")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def session_cookie(page) -> str:
    return next(c for c in page.context.cookies() if c["name"] == "danbio_session")["value"]


def log_in(page, stack, keycloak_realm, user) -> tuple[str, str]:
    """Through Keycloak's login form; the session cookie's value before and after."""
    web = stack.url("web")
    page.goto(web)
    page.get_by_role("link", name="Log ind").click()
    # Keycloak's own login page, in Danish (the realm's default locale).
    page.wait_for_url(re.compile(re.escape(keycloak_realm.issuer) + r"/protocol/openid-connect/auth.*"))
    expect(page.locator("html")).to_have_attribute("lang", "da")
    before = session_cookie(page)
    page.fill("#username", user.username)
    page.fill("#password", user.password)
    page.click("#kc-login")
    page.wait_for_url(f"{web}/")
    return before, session_cookie(page)


def keycloak_user_id(keycloak_realm, username: str) -> str:
    return keycloak_realm.admin.get_user_id(username)


def test_administrator_logs_in_sees_user_administration_and_logs_out(page, stack, keycloak_realm, tmp_path):
    web = stack.url("web")
    user_id = keycloak_user_id(keycloak_realm, LOCAL_ADMIN.username)
    # Other tests hold sessions of the same demo user (password grants): only the browser's counts.
    def browser_sessions() -> set[str]:
        return {found["id"] for found in keycloak_realm.admin.get_sessions(user_id)} - others

    others = {found["id"] for found in keycloak_realm.admin.get_sessions(user_id)}
    before, after = log_in(page, stack, keycloak_realm, LOCAL_ADMIN)
    assert before != after  # a new session id once logged in: no session fixation
    expect(page.get_by_role("heading", name=f"Velkommen, {LOCAL_ADMIN.first_name} {LOCAL_ADMIN.last_name}")).to_be_visible()
    expect(page.get_by_role("link", name="Ret brugerprofil")).to_be_visible()
    admin_menu = page.locator("nav .menu-bottom")
    expect(admin_menu.get_by_text("BRUGERADMINISTRATION")).to_be_visible()
    # Bottom left, as in the guide: in the left column, below everything else in it.
    box, viewport = admin_menu.bounding_box(), page.viewport_size
    assert box["x"] < 100 and box["y"] + box["height"] > viewport["height"] - 40, box
    page.screenshot(path=str(tmp_path / "shell.png"))

    admin_menu.get_by_role("link", name="Brugere").click()
    expect(page.get_by_role("heading", name="Brugere", exact=True)).to_be_visible()
    expect(page.get_by_text("Odense Universitetshospital")).to_be_visible()

    page.get_by_role("link", name="Ret brugerprofil").click()
    expect(page.get_by_text(LOCAL_ADMIN.email)).to_be_visible()

    cookie = next(c for c in page.context.cookies() if c["name"] == "danbio_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # http: development
    assert browser_sessions()

    page.get_by_role("button", name="Log ud").click()
    page.wait_for_url(f"{web}/")
    expect(page.get_by_role("link", name="Log ind")).to_be_visible()
    # Keycloak's session is over too: nothing logs the browser back in by itself.
    assert browser_sessions() == set()
    page.goto(f"{web}/profil")
    expect(page.locator("#kc-login")).to_be_visible()


def test_a_clinician_has_no_user_administration(page, stack, keycloak_realm):
    log_in(page, stack, keycloak_realm, CLINICIAN)
    # The login was reported to identity: administrators see it as the last login.
    token = keycloak_realm.user_token(CLINICIAN.username, CLINICIAN.password)["access_token"]
    me = requests.get(f"{stack.url('gateway')}/api/identity/me", headers={"Authorization": f"Bearer {token}"},
                      timeout=10).json()
    assert me["last_login_at"] is not None
    expect(page.get_by_role("link", name="Ret brugerprofil")).to_be_visible()
    expect(page.get_by_text("BRUGERADMINISTRATION")).to_have_count(0)
    page.goto(f"{stack.url('web')}/brugere")
    expect(page.get_by_role("heading", name="Ingen adgang")).to_be_visible()


def test_logout_without_the_form_token_is_refused_in_danish(page, stack, keycloak_realm):
    log_in(page, stack, keycloak_realm, CLINICIAN)
    sid = session_cookie(page)
    response = requests.post(f"{stack.url('web')}/logout", cookies={"danbio_session": sid}, allow_redirects=False,
                             timeout=10)
    assert response.status_code == 400
    assert "Formularen er udløbet" in response.text and "Traceback" not in response.text
    page.goto(f"{stack.url('web')}/profil")  # still logged in
    expect(page.get_by_role("heading", name="Ret brugerprofil")).to_be_visible()


def session_store(stack):
    from servicekit.db import Database
    from web.adapters.session_store import SessionStore
    from web.settings import parse_session_keys

    return SessionStore(Database(stack.web_env["WEB_DATABASE_URL"]),
                        parse_session_keys(stack.web_env["WEB_SESSION_KEY"]).sealer)


def test_expired_access_token_is_refreshed_once_for_parallel_requests(page, stack, keycloak_realm):
    log_in(page, stack, keycloak_realm, CLINICIAN)
    sid = session_cookie(page)
    store = session_store(stack)
    data = store.load(sid)
    assert data and set(data["tokens"]) >= {"access_token", "refresh_token", "id_token"}
    old = dict(data["tokens"])
    # As if five minutes had passed: the access token has run out.
    data["tokens"]["access_expires_at"] = time.time() - 1
    store.save(sid, data, lifetime=timedelta(minutes=30))

    # Several requests at once (two web workers): the realm allows each refresh token only once,
    # so they must share one refresh rather than each try their own.
    results: list[int] = []

    def load_profile():
        results.append(requests.get(f"{stack.url('web')}/profil", cookies={"danbio_session": sid},
                                    allow_redirects=False, timeout=20).status_code)

    threads = [threading.Thread(target=load_profile) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 6, results
    fresh = store.load(sid)["tokens"]
    assert fresh["access_token"] != old["access_token"] and fresh["refresh_token"] != old["refresh_token"]
    assert fresh["access_expires_at"] > time.time() + 60
    page.goto(f"{stack.url('web')}/profil")  # the browser's session goes on with the new tokens
    expect(page.get_by_role("heading", name="Ret brugerprofil")).to_be_visible()


def test_error_pages_are_danish_and_plain(stack):
    response = requests.get(f"{stack.url('web')}/findes-ikke", timeout=10)
    assert response.status_code == 404
    assert "Siden findes ikke" in response.text and "Traceback" not in response.text
    callback = requests.get(f"{stack.url('web')}/auth/callback?state=unknown&code=x", timeout=10)
    assert callback.status_code == 400 and "Login-forsøget er udløbet" in callback.text


def test_web_security_headers(stack):
    response = requests.get(stack.url("web"), timeout=10)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"

