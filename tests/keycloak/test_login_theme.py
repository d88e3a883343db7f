"""Realm danbio's login theme (deploy/keycloak/themes/danbio) on the real Keycloak: the password login
page ends with the link "Glemt adgangskode?" to the web UI's reset by SMS code, taken from the web
client's base URL, and Keycloak's own e-mail reset stays off.

The Keycloak under test must have the theme in its themes/ (dev/servers/keycloak.sh copies it there
at start; the image and compose carry it too): without it Keycloak silently falls back to its
built-in theme, and these tests say so.
"""
import base64
import hashlib
import html
import re
import secrets

import pytest
import requests

from dev import keycloak_realm as realm_file
from tests.keycloak.fixtures import create_test_realm, delete_test_realm

WEB = "http://127.0.0.1:8000"  # the web client's base URL in the realm file
LINK = re.compile(r'<a id="danbio-forgot-password" href="([^"]*)">\s*([^<]*?)\s*</a>')


@pytest.fixture(scope="module")
def realm(keycloak_url):
    made = create_test_realm(keycloak_url)
    yield made
    delete_test_realm(made)


def pkce() -> dict[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return {"code_challenge": challenge, "code_challenge_method": "S256"}


def login_page(realm, client_id: str = "web", redirect_uri: str = f"{WEB}/auth/callback", **params) -> str:
    query = {"client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": "openid",
             "state": secrets.token_urlsafe(8), **pkce(), **params}
    response = requests.get(f"{realm.issuer}/protocol/openid-connect/auth", params=query, timeout=30)
    assert response.status_code == 200, response.text[:500]
    assert 'id="kc-form-login"' in response.text, "not Keycloak's password login page"
    return response.text


def reset_link(page: str) -> tuple[str, str] | None:
    found = LINK.search(page)
    return (html.unescape(found.group(1)), found.group(2)) if found else None


def test_realm_selects_the_theme_and_keeps_keycloaks_own_reset_off(realm):
    settings = realm.admin.get_realm(realm.name)
    assert settings["loginTheme"] == "danbio"
    assert settings["resetPasswordAllowed"] is False


def test_login_page_ends_with_the_danish_reset_link_to_the_web_ui(realm):
    page = login_page(realm)
    assert reset_link(page) == (f"{WEB}/glemt-adgangskode", "Glemt adgangskode?"), (
        "no danbio reset link: is deploy/keycloak/themes/danbio in this Keycloak's themes/ "
        "(dev/servers/keycloak.sh themes, then restart)?")
    # At the bottom: after the login form and the identity providers' buttons.
    assert page.index('id="danbio-password-reset"') > page.index("</form>")
    # Keycloak's own reset by e-mail is not offered next to it.
    assert "login-actions/reset-credentials" not in page


def test_the_link_follows_the_web_clients_base_url(realm):
    """No address is written in the theme: each environment's web client says where the web UI is."""
    admin = realm.admin
    client_id = admin.get_client_id("web")
    client = admin.get_client(client_id)
    original = client["baseUrl"]
    try:
        admin.update_client(client_id, {**client, "baseUrl": "https://danbio.example.org/"})
        assert reset_link(login_page(realm))[0] == "https://danbio.example.org/glemt-adgangskode"
        # Without an absolute base URL there is no link rather than one to Keycloak's own host.
        admin.update_client(client_id, {**client, "baseUrl": ""})
        assert reset_link(login_page(realm)) is None
    finally:
        admin.update_client(client_id, {**client, "baseUrl": original})


def test_english_page_has_the_link_in_english(realm):
    assert reset_link(login_page(realm, ui_locales="en")) == (f"{WEB}/glemt-adgangskode", "Forgot password?")


def test_no_link_on_login_pages_of_other_clients(realm):
    """Only the web client's base URL is the web UI: the account console's login page gets no link."""
    account = f"{realm.issuer}/account/"
    page = login_page(realm, client_id="account-console", redirect_uri=account)
    assert reset_link(page) is None


def test_realm_tool_tells_whether_keycloak_has_the_theme(keycloak_url):
    """dev/keycloak_realm.py warns when the Keycloak it fills lacks the realm's login theme."""
    master = realm_file.master_admin(keycloak_url)
    representation = realm_file.realm_representation(realm_file.dev_values())
    assert realm_file.missing_login_theme(master, representation) is None
    assert realm_file.missing_login_theme(master, {**representation, "loginTheme": "ingen-tema"}) == "ingen-tema"
