"""The realm file is live: what it says is what Keycloak does.

These tests use a realm of their own, made from the file: other tests may adapt the session's realm
to their needs (the end-to-end stack points the web client at its own port)."""
import base64
import json
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from keycloak.exceptions import KeycloakPutError

from dev import keycloak_realm as realm_file
from tests.keycloak.fixtures import create_test_realm, delete_test_realm

CALLBACK = "http://127.0.0.1:8000/auth/callback"


@pytest.fixture(scope="module")
def realm(keycloak_url):
    made = create_test_realm(keycloak_url)
    yield made
    delete_test_realm(made)


@pytest.fixture(scope="module")
def admin(realm):
    return realm.admin


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def client(admin, client_id: str) -> dict:
    [found] = [c for c in admin.get_clients() if c["clientId"] == client_id]
    return found


def authorize(realm, **params) -> requests.Response:
    query = {"client_id": "web", "redirect_uri": CALLBACK, "response_type": "code", "scope": "openid",
             "state": secrets.token_urlsafe(8), **params}
    return requests.get(f"{realm.issuer}/protocol/openid-connect/auth", params=query, allow_redirects=False,
                        timeout=30)


def test_every_placeholder_has_a_development_value():
    names = realm_file.placeholders()
    assert names == {"DANBIO_KC_WEB_SECRET", "DANBIO_KC_IDENTITY_SECRET", "DANBIO_KC_PLATFORM_SECRET"}
    assert names <= set(realm_file.dev_values({}))
    with pytest.raises(ValueError, match="DANBIO_KC_WEB_SECRET"):
        realm_file.realm_text({**realm_file.dev_values({}), "DANBIO_KC_WEB_SECRET": ""})


def test_realm_settings(admin, realm):
    realm = admin.get_realm(realm.name)
    assert realm["passwordPolicy"] == "length(12) and notUsername and passwordHistory(3)"
    assert (realm["defaultLocale"], set(realm["supportedLocales"])) == ("da", {"da", "en"})
    assert realm["internationalizationEnabled"] is True
    assert (realm["resetPasswordAllowed"], realm["registrationAllowed"]) == (False, False)
    brute_force = {k: realm[k] for k in ("bruteForceProtected", "failureFactor", "permanentLockout",
                                          "maxTemporaryLockouts", "bruteForceStrategy", "waitIncrementSeconds",
                                          "maxFailureWaitSeconds")}
    assert brute_force == {"bruteForceProtected": True, "failureFactor": 5, "permanentLockout": True,
                           "maxTemporaryLockouts": 3, "bruteForceStrategy": "LINEAR", "waitIncrementSeconds": 60,
                           "maxFailureWaitSeconds": 900}


def test_client_secrets_come_from_the_placeholders(admin, realm):
    for client_id, variable in (("web", "DANBIO_KC_WEB_SECRET"), ("identity-admin", "DANBIO_KC_IDENTITY_SECRET"),
                                ("patient-platform", "DANBIO_KC_PLATFORM_SECRET")):
        secret = admin.get_client_secrets(client(admin, client_id)["id"])["value"]
        assert secret == realm.secrets[variable]
        assert "${" not in secret


def test_password_policy_refuses_short_reused_and_username_passwords(realm, admin):
    user = realm.create_user(username="kirsten.kortkode")
    with pytest.raises(KeycloakPutError) as short:
        admin.set_user_password(user.id, "Kort-kode-1", temporary=False)  # 11 characters
    assert short.value.response_code == 400
    assert b"invalidPasswordMinLengthMessage" in short.value.response_body
    with pytest.raises(KeycloakPutError) as same_as_username:
        admin.set_user_password(user.id, "kirsten.kortkode", temporary=False)
    assert b"invalidPasswordNotUsernameMessage" in same_as_username.value.response_body
    first = user.password
    for number in (2, 3):
        admin.set_user_password(user.id, f"Ny-adgangskode-{number}", temporary=False)
    with pytest.raises(KeycloakPutError) as reused:
        admin.set_user_password(user.id, first, temporary=False)  # one of the last three
    assert b"invalidPasswordHistoryMessage" in reused.value.response_body


def test_web_client_takes_only_the_code_flow_with_pkce(realm):
    without_pkce = authorize(realm)
    assert without_pkce.status_code == 302
    error = parse_qs(urlsplit(without_pkce.headers["Location"]).query)
    assert error["error"] == ["invalid_request"]
    assert "code_challenge_method" in error["error_description"][0]

    plain = authorize(realm, code_challenge="x" * 43, code_challenge_method="plain")
    assert parse_qs(urlsplit(plain.headers["Location"]).query)["error"] == ["invalid_request"]

    login_page = authorize(realm, code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                           code_challenge_method="S256")
    assert login_page.status_code == 200
    assert re.search(r'<html[^>]*lang="da"', login_page.text), "the login page is not in Danish"
    assert "Log ind" in login_page.text

    elsewhere = authorize(realm, redirect_uri="http://127.0.0.1:8000/elsewhere",
                          code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method="S256")
    assert elsewhere.status_code == 400  # exact redirect URIs only

    password = realm.password_grant("nobody", "whatever-it-is", client_id="web",
                                             client_secret=realm.secrets["DANBIO_KC_WEB_SECRET"])
    assert password.json()["error"] == "unauthorized_client"


def test_web_client_tokens_are_for_the_gateway(admin, realm):
    web = client(admin, "web")
    assert "gateway-audience" in [s["name"] for s in admin.get_client_default_client_scopes(web["id"])]
    assert web["attributes"]["post.logout.redirect.uris"].split("##") == ["http://127.0.0.1:8000/",
                                                                          "http://localhost:8000/"]
    assert sorted(web["redirectUris"]) == [CALLBACK, "http://localhost:8000/auth/callback"]
    user = realm.create_user()
    example = admin.connection.raw_get(
        f"admin/realms/{realm.name}/clients/{web['id']}/evaluate-scopes/generate-example-access-token",
        scope="openid", userId=user.id)
    assert example.status_code == 200, example.text
    token = example.json()
    assert "gateway" in (token["aud"] if isinstance(token["aud"], list) else [token["aud"]])
    assert token["sub"] == user.id and token["azp"] == "web"


def test_machine_clients(realm):
    platform = realm.client_token("patient-platform", realm.secrets["DANBIO_KC_PLATFORM_SECRET"])
    token = claims(platform["access_token"])
    assert "gateway" in (token["aud"] if isinstance(token["aud"], list) else [token["aud"]])
    assert token["azp"] == "patient-platform"
    assert token["iss"] == realm.issuer

    refused = requests.post(realm.token_endpoint, timeout=30, data={
        "grant_type": "client_credentials", "client_id": "gateway", "client_secret": "anything"})
    assert refused.status_code in (400, 401)


def test_identity_admin_holds_only_the_user_roles(admin, realm):
    identity_admin = client(admin, "identity-admin")
    account = admin.get_client_service_account_user(identity_admin["id"])
    management = client(admin, "realm-management")
    roles = admin.get_client_roles_of_user(account["id"], management["id"])
    # view-realm (read-only): identity shows the realm's password policy on the set-password pages.
    # view-events (read-only): the users with a recent failed login are the only ones that can be
    # temporarily locked; user lists ask Keycloak about those alone.
    assert sorted(r["name"] for r in roles) == ["manage-users", "query-users", "view-events", "view-realm",
                                                "view-users"]

    token = realm.client_token("identity-admin", realm.secrets["DANBIO_KC_IDENTITY_SECRET"])
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    admin_api = f"{realm.url}/admin/realms/{realm.name}"
    assert requests.get(f"{admin_api}/users", headers=headers, timeout=30).status_code == 200
    assert requests.get(f"{admin_api}/clients", headers=headers, timeout=30).status_code == 403
    # view-realm reads the realm's settings (and so its roles) but changes nothing of it.
    assert requests.put(admin_api, json={"passwordPolicy": "length(1)"}, headers=headers, timeout=30).status_code == 403
    assert requests.post(f"{admin_api}/roles", json={"name": "x"}, headers=headers, timeout=30).status_code == 403
    # view-events reads the failed logins, but can neither delete them nor stop them being kept.
    assert requests.get(f"{admin_api}/events", headers=headers, timeout=30).status_code == 200
    assert requests.delete(f"{admin_api}/events", headers=headers, timeout=30).status_code == 403
    assert requests.put(f"{admin_api}/events/config", json={"eventsEnabled": False}, headers=headers,
                        timeout=30).status_code == 403


def test_test_client_tokens_carry_the_gateway_audience(realm):
    user = realm.create_user()
    token = claims(realm.user_token(user.username, user.password)["access_token"])
    assert token["sub"] == user.id
    assert "gateway" in (token["aud"] if isinstance(token["aud"], list) else [token["aud"]])
