"""Abuse (issue 10 part 5) of the web UI: CSRF on every form, open redirects on the login and
logout return URLs — against the running web UI, logged in through Keycloak's real login form.

The forms are not listed by hand: every rule of the web app's url_map that takes a POST is tried,
so a new form without CSRF protection fails here the day it is added.
"""
from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from sqlalchemy import create_engine, inspect, text

from identity.service.seed import DEMO_USERS

from .abuse_support import WebSession, make_user

LOCAL_ADMIN = next(user for user in DEMO_USERS if user.hospital_role == "local_admin")
CLINICIAN = next(user for user in DEMO_USERS if user.hospital_role == "clinician")
CSRF_REFUSED = "Formularen er udløbet"


# Run in a process of its own, as the stack runs the web UI: its logging set-up stays out of this one.
ROUTES_SCRIPT = """
import json, os
from web.app import create_app
app = create_app(os.environ)
csrf = app.extensions["csrf"]
print(json.dumps({
    "exempt": sorted(map(str, csrf._exempt_views)) + sorted(map(str, csrf._exempt_blueprints)),
    "rules": [{"rule": rule.rule, "endpoint": rule.endpoint, "methods": sorted(rule.methods),
               "arguments": {name: type(rule._converters[name]).__name__ for name in rule.arguments}}
              for rule in app.url_map.iter_rules()]}))
"""


@pytest.fixture(scope="module")
def web_routes(stack):
    """The web app's url_map (and its CSRF exemptions), from the app factory the stack runs."""
    return json.loads(stack.run("-c", ROUTES_SCRIPT, env=stack.web_env).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ouh(stack, keycloak_realm):
    """(hospital id, department id) of the demo local administrator."""
    token = keycloak_realm.user_token(LOCAL_ADMIN.username, LOCAL_ADMIN.password)["access_token"]
    me = requests.get(f"{stack.url('gateway')}/api/identity/me", headers={"Authorization": f"Bearer {token}"},
                      timeout=10).json()
    membership = me["memberships"][0]
    return membership["hospital"]["id"], membership["departments"][0]["id"]


def post_routes(routes: dict, values: dict[str, str]) -> list[str]:
    """A URL for every rule that takes a POST, its variables filled from ``values`` by name (a
    random UUID or "x" for a name not listed: the CSRF check comes before the view)."""
    urls = []
    for rule in routes["rules"]:
        if "POST" not in rule["methods"]:
            continue
        url = rule["rule"]
        for name, converter in rule["arguments"].items():
            value = values.get(name) or (str(uuid.uuid4()) if converter == "UUIDConverter" else "x")
            url = re.sub(rf"<(?:[^:<>]+:)?{name}>", value, url)
        urls.append(url)
    return sorted(set(urls))


def table_counts(url: str) -> dict[str, int]:
    """Rows per domain table (the bus's inbox and outbox tables aside: other tests' events)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            names = [name for name in inspect(connection).get_table_names()
                     if not any(part in name for part in ("inbox", "outbox", "alembic"))]
            return {name: connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}
    finally:
        engine.dispose()


def test_every_post_route_refuses_a_missing_or_wrong_csrf_token_and_changes_nothing(
        stack, web_routes, ouh, identity_runtime, user_directory, e2e_databases):
    hospital_id, department_id = ouh
    victim, _, _ = make_user(identity_runtime, user_directory, memberships={uuid.UUID(hospital_id): "clinician"},
                             departments=frozenset({uuid.UUID(department_id)}))
    routes = post_routes(web_routes, {"hospital_id": hospital_id, "user_id": str(victim),
                                   "department_id": department_id, "alias": "mitid"})
    # A floor, so that a broken enumeration cannot pass by finding nothing.
    assert len(routes) >= 20, routes
    assert web_routes["exempt"] == [], web_routes["exempt"]

    attacker = WebSession(stack.url("web"))
    foreign_token = attacker.token("/glemt-adgangskode")  # valid, but bound to the attacker's session
    before = {name: table_counts(e2e_databases[name]) for name in ("identity", "patients")}
    tried = 0
    for user in (LOCAL_ADMIN, CLINICIAN):
        victim_browser = WebSession(stack.url("web"))
        assert victim_browser.log_in(user.username, user.password).status_code == 302
        fields = {"username": "x", "first_name": "Ond", "last_name": "Angriber", "email": "ond@example.org",
                  "role": "local_admin", "departments": department_id, "phone": "+4520000000", "reason": "x",
                  "cpr": "0101901234", "name": "Ond", "code": "123456", "password": "Ond-adgangskode-2026",
                  "password_repeat": "Ond-adgangskode-2026"}
        variants = {"no token": {}, "empty token": {"csrf_token": ""}, "garbage": {"csrf_token": "abc.def.ghi"},
                    "another session's token": {"csrf_token": foreign_token}}
        for url in routes:
            for label, token in variants.items():
                refused = victim_browser.post(url, data={**fields, **token})
                assert refused.status_code == 400 and CSRF_REFUSED in refused.text, (user.username, url, label,
                                                                                    refused.status_code)
                tried += 1
            in_header = victim_browser.post(url, data=fields, headers={"X-CSRFToken": foreign_token})
            assert in_header.status_code == 400 and CSRF_REFUSED in in_header.text, (url, "header")
            tried += 1
        # still logged in: the refused POST /logout did not log out either
        assert victim_browser.get("/profil").status_code == 200
    assert {name: table_counts(e2e_databases[name]) for name in ("identity", "patients")} == before
    print(f"\nCSRF: {len(routes)} POST routes, {tried} refused posts")

    # The control: with its own token the same kind of POST goes through (the 400s were the token's).
    fine = attacker.submit("/glemt-adgangskode", username="x")
    assert fine.status_code == 302


OPEN_REDIRECTS = [
    "https://evil.example", "http://evil.example/", "//evil.example", "///evil.example", "////evil.example",
    "/\\evil.example", "\\\\evil.example", "/\\/evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "https:evil.example", "evil.example", "/\t/evil.example",
    "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example", " //evil.example", "/%2F/evil.example",
    "%2F%2Fevil.example", "/%5Cevil.example", "/\x0b/evil.example", "/\u3000/evil.example",
    "/\uff0f/evil.example", "https://127.0.0.1@evil.example", "/@evil.example", "/.//evil.example",
]


def assert_local(location: str) -> None:
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location, location
    assert not any(ord(ch) < 0x21 or ord(ch) == 0x7f for ch in location), repr(location)


def test_login_return_urls_stay_on_this_site(stack):
    browser = WebSession(stack.url("web"))
    assert browser.log_in(CLINICIAN.username, CLINICIAN.password, "/profil").headers["Location"] == "/profil"
    for target in OPEN_REDIRECTS:
        back = browser.log_in(CLINICIAN.username, CLINICIAN.password, target)  # single sign-on: no form again
        assert back.status_code == 302, (target, back.status_code)
        assert_local(back.headers["Location"])
    # encoded twice over (a link that went through another redirector first)
    for target in ("%2F%2Fevil.example", "%252F%252Fevil.example", quote("/\t/evil.example")):
        back = browser.log_in(CLINICIAN.username, CLINICIAN.password, target)
        assert back.status_code == 302 and not urlsplit(back.headers["Location"]).netloc, target
    # a page that needs a login sends the browser to /login with a local next only
    anonymous = WebSession(stack.url("web"))
    for target in ("/profil?x=//evil.example", "/profil/%2F%2Fevil.example"):
        answer = anonymous.get(target)
        assert answer.status_code in (302, 404), (target, answer.status_code)
        if answer.status_code == 302:
            assert answer.headers["Location"].startswith("/login?next=/"), answer.headers["Location"]


def test_logout_returns_only_to_this_site_and_keycloak_refuses_other_return_urls(stack, keycloak_realm):
    web = stack.url("web")
    browser = WebSession(web)
    browser.log_in(CLINICIAN.username, CLINICIAN.password)
    token = browser.token("/profil")
    evil = "https://evil.example/"
    out = browser.post("/logout?next=https://evil.example&return_to=//evil.example",
                       data={"csrf_token": token, "next": evil, "return_to": evil, "post_logout_redirect_uri": evil})
    assert out.status_code == 302
    target = urlsplit(out.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{keycloak_realm.issuer}/protocol/openid-connect/logout"
    assert parse_qs(target.query)["post_logout_redirect_uri"] == [f"{web}/"]
    # Keycloak itself holds the web client to its exact return URLs (realm as code): a forged link
    # to its login or logout with another site as the return address goes nowhere.
    auth = requests.get(f"{keycloak_realm.issuer}/protocol/openid-connect/auth", allow_redirects=False, timeout=30,
                        params={"client_id": "web", "response_type": "code", "scope": "openid",
                                "redirect_uri": "https://evil.example/auth/callback"})
    assert auth.status_code == 400 and "evil.example" not in auth.headers.get("Location", "")
    logout = requests.get(f"{keycloak_realm.issuer}/protocol/openid-connect/logout", allow_redirects=False,
                          timeout=30, params={"client_id": "web", "post_logout_redirect_uri": evil})
    assert logout.status_code == 400 and "evil.example" not in logout.headers.get("Location", "")
    for near_miss in (f"{web}.evil.example/", f"{web}/../evil", f"{web}@evil.example/"):
        answer = requests.get(f"{keycloak_realm.issuer}/protocol/openid-connect/auth", allow_redirects=False,
                              timeout=30, params={"client_id": "web", "response_type": "code", "scope": "openid",
                                                  "redirect_uri": near_miss})
        assert answer.status_code == 400, near_miss
