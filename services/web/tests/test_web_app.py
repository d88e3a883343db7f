"""The web UI's own behaviour with the Flask test client: settings, sessions at rest, the start of
the login (against the real Keycloak realm of the test session), CSRF and Danish error pages.
The whole login in a browser is in tests/e2e/test_browser_login.py."""
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from servicekit.config import ConfigError
from servicekit.db import Database
from servicekit.sealed import generate_key
from web.adapters.session_store import SessionStore
from web.adapters.tables import sessions
from web.app import create_app
from web.auth import safe_next
from web.settings import parse_session_keys


@pytest.fixture
def env(new_database, keycloak_realm):
    from web.__main__ import MIGRATIONS_DIR
    from servicekit.migrations import upgrade

    url = new_database("web")
    upgrade(MIGRATIONS_DIR, url)
    return {"WEB_DATABASE_URL": url, "WEB_SESSION_KEY": generate_key(), "DANBIO_KC_WEB_SECRET": "x",
            "WEB_OIDC_ISSUER": keycloak_realm.issuer}


def test_plain_http_only_on_this_machine(env):
    with pytest.raises(ConfigError, match="WEB_PUBLIC_URL must be https"):
        create_app({**env, "WEB_PUBLIC_URL": "http://danbio.example.org"})
    with pytest.raises(ConfigError, match="WEB_SESSION_KEY"):
        create_app({**env, "WEB_SESSION_KEY": ""})
    assert create_app({**env, "WEB_PUBLIC_URL": "http://localhost:8000"})


def test_login_starts_the_code_flow_with_pkce_state_and_nonce(env):
    client = create_app({**env, "WEB_PUBLIC_URL": "https://danbio.example.org"}).test_client()
    response = client.get("/login?next=/profil")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    query = {key: values[0] for key, values in parse_qs(target.query).items()}
    assert target.path.endswith("/protocol/openid-connect/auth")
    assert query["response_type"] == "code" and query["client_id"] == "web"
    assert query["redirect_uri"] == "https://danbio.example.org/auth/callback"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32 and query["state"] != query["nonce"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("danbio_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_session_at_rest_is_sealed_and_keyed_by_a_hash(env):
    keys = parse_session_keys(env["WEB_SESSION_KEY"])
    db = Database(env["WEB_DATABASE_URL"])
    store = SessionStore(db, keys.sealer)
    store.save("the-cookie-value", {"tokens": {"refresh_token": "very-secret-refresh-token"}},
               lifetime=timedelta(minutes=5))
    with db.engine.connect() as connection:
        row = connection.execute(select(sessions)).one()
    assert "the-cookie-value" not in row.id_hash and "very-secret" not in row.data
    assert store.load("the-cookie-value")["tokens"]["refresh_token"] == "very-secret-refresh-token"
    assert store.load("another-value") is None
    # A session sealed with a key that is no longer configured is simply gone.
    assert SessionStore(db, parse_session_keys(generate_key()).sealer).load("the-cookie-value") is None
    store.save("expired", {"a": 1}, lifetime=timedelta(seconds=-1))
    assert store.load("expired") is None
    store.delete("the-cookie-value")
    assert store.load("the-cookie-value") is None
    db.dispose()


def test_pages_need_a_login_and_errors_are_danish(env):
    client = create_app(env).test_client()
    landing = client.get("/")
    assert landing.status_code == 200 and "Log ind" in landing.text
    assert client.get("/profil").headers["Location"] == "/login?next=/profil"
    assert client.get("/brugere").headers["Location"] == "/login?next=/brugere"
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and "Siden findes ikke" in missing.text
    refused = client.post("/logout")
    assert refused.status_code == 400 and "Formularen er udløbet" in refused.text


def test_unknown_login_answer_is_refused(env):
    client = create_app(env).test_client()
    client.get("/login")
    response = client.get("/auth/callback?state=not-the-one&code=abc")
    assert response.status_code == 400 and "Login-forsøget er udløbet" in response.text


@pytest.mark.parametrize("value, expected", [
    (None, "/"), ("/profil", "/profil"), ("/brugere?x=1", "/brugere?x=1"), ("//evil.example.org", "/"),
    ("https://evil.example.org", "/"), ("/\\evil.example.org", "/"), ("profil", "/"),
    # issue 10 (abuse): browsers drop tabs and line breaks, so these were //evil.example (or a 500)
    ("/\t/evil.example.org", "/"), ("/\n/evil.example.org", "/"), ("/\r\n/evil.example.org", "/"),
    ("/\x0b/evil.example.org", "/"), ("/ /evil.example.org", "/"), ("/\x00", "/"), ("/patienter/søg", "/patienter/søg")])
def test_next_is_a_local_path(value, expected):
    assert safe_next(value) == expected


def test_logout_over_https_passes_the_csrf_check_with_a_same_origin_referer(env):
    https = "https://danbio.example.org"
    client = create_app({**env, "WEB_PUBLIC_URL": https}).test_client()
    with client.session_transaction(base_url=https) as session:
        session["tokens"] = {"id_token": "an-id-token", "refresh_expires_in": 1800}
        session["user"] = {"sub": "x", "name": "Test Bruger"}
    # Any page of a logged-in user carries the logout form with its token (here: the 404 page).
    page = client.get("/nowhere", base_url=https).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/logout", base_url=https, data={"csrf_token": token},
                           headers={"Referer": f"{https}/profil"})
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path.endswith("/protocol/openid-connect/logout")
    assert parse_qs(target.query)["post_logout_redirect_uri"] == [f"{https}/"]
    assert parse_qs(target.query)["id_token_hint"] == ["an-id-token"]
    landing = client.get("/", base_url=https)
    assert landing.headers["Referrer-Policy"] == "same-origin" and "Log ind" in landing.text
