"""The account pages' own behaviour (issue 7) with the Flask test client: CSRF on every form,
the link token out of the address bar and the log, login required for the profile form. The flows
themselves run in a browser in tests/e2e/test_browser_password_reset.py."""
import logging

import pytest

from servicekit.sealed import generate_key
from web.app import create_app


@pytest.fixture
def client(new_database, keycloak_realm):
    from servicekit.migrations import upgrade
    from web.__main__ import MIGRATIONS_DIR

    url = new_database("web")
    upgrade(MIGRATIONS_DIR, url)
    app = create_app({"WEB_DATABASE_URL": url, "WEB_SESSION_KEY": generate_key(), "DANBIO_KC_WEB_SECRET": "x",
                      "WEB_OIDC_ISSUER": keycloak_realm.issuer})
    return app.test_client()


@pytest.mark.parametrize("path", ["/glemt-adgangskode", "/glemt-adgangskode/send-kode",
                                  "/glemt-adgangskode/verificer", "/ny-adgangskode", "/profil/ret"])
def test_every_form_needs_its_csrf_token(client, path):
    response = client.post(path, data={"username": "x", "code": "123456", "password": "p", "password_repeat": "p"})
    assert response.status_code == 400
    assert "Formularen er udløbet" in response.get_data(as_text=True)


def test_the_link_token_leaves_the_address_and_the_log(client, caplog):
    token = "T0k3n-" + "x" * 40
    with caplog.at_level(logging.INFO):
        response = client.get(f"/aktiver/{token}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/ny-adgangskode")
    assert token not in response.headers["Location"]
    logged = [getattr(record, "path", "") for record in caplog.records]
    assert "/aktiver/<redacted>" in logged and not any(token in path for path in logged)


def test_the_forgotten_password_page_and_its_link_on_the_front_page(client):
    front = client.get("/").get_data(as_text=True)
    assert 'href="/glemt-adgangskode"' in front and "Glemt adgangskode?" in front
    page = client.get("/glemt-adgangskode").get_data(as_text=True)
    assert "Brugernavn" in page and "Skift adgangskode" in page and 'name="csrf_token"' in page
    # without a reset under way, the later steps start over
    assert client.get("/glemt-adgangskode/kode").headers["Location"].endswith("/glemt-adgangskode")


def test_the_profile_form_needs_a_login(client):
    response = client.get("/profil/ret")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
