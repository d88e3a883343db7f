"""What the web UI tells a user whose MitID / regional profile identity refused (requirement D2,
issue 8): for each reason identity gives (services/identity/tests/test_federation_check.py), a Danish
message that names what was wrong and what to choose instead, after linking and after a login.
The gateway is a stand-in answering as identity does; in a browser: tests/e2e/test_federation_login.py."""
import time

import pytest
from flask import session

from servicekit.sealed import generate_key
from web.adapters.gateway_client import Rejected
from web.app import create_app
from web.auth import LINK_RETURNED
from web.federation import record_federated_login

# identity's 422 for each reason (services/identity/identity/service/federation.py), and what the
# user must be told: what was wrong, and what to choose instead.
WHAT_WAS_WRONG = {
    "missing_authorisation": ("har ingen autorisation som sundhedsperson",
                              "Vælg i stedet din erhvervsprofil (MitID Erhverv), der bærer din autorisation"),
    "missing_organisation": ("er ikke knyttet til en organisation (CVR)",
                             "Vælg i stedet din erhvervsprofil hos dit hospital eller din praksis"),
    "missing_professional_id": ("er ikke en erhvervsprofil",
                                "Vælg din erhvervsprofil (MitID Erhverv) hos dit hospital eller din praksis"),
}


def refused_by_identity(*problems: str) -> Rejected:
    return Rejected(422, "The chosen profile cannot be used for DANBIO; the link was removed.", {
        "status": 422, "title": "Invalid input", "errors": {"profile": list(problems)},
        "codes": {"profile": problems[0]}})


NOT_LINKED = Rejected(422, "No link", {"status": 422, "errors": {"link": ["not_linked"]},
                                       "codes": {"link": "not_linked"}})


class IdentityGateway:
    """Answers /api/identity/me/federation/... with ``answer`` (a dict, or a Rejected to raise)."""

    def __init__(self):
        self.answer = {}
        self.calls = []

    def call(self, method, path, **_):
        self.calls.append((method, path))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def gateway():
    return IdentityGateway()


@pytest.fixture
def app(new_database, gateway):
    from servicekit.migrations import upgrade
    from web.__main__ import MIGRATIONS_DIR

    url = new_database("web")
    upgrade(MIGRATIONS_DIR, url)
    app = create_app({"WEB_DATABASE_URL": url, "WEB_SESSION_KEY": generate_key(), "DANBIO_KC_WEB_SECRET": "x",
                      "WEB_OIDC_ISSUER": "http://127.0.0.1:9/realms/none"})
    app.extensions["web.gateway"] = gateway
    return app


TOKENS = {"access_token": "a", "refresh_token": "r", "id_token": "i", "access_expires_at": time.time() + 3600,
          "refresh_expires_in": 1800}


@pytest.fixture
def client(app):
    client = app.test_client()
    with client.session_transaction() as s:
        s["tokens"] = dict(TOKENS, access_expires_at=time.time() + 3600)
        s["user"] = {"sub": "x", "name": "Ole Udsen"}
    return client


def back_from_linking(client, alias: str):
    """The page Keycloak's linking leads to, as the login callback sends the browser there."""
    with client.session_transaction() as s:
        s[LINK_RETURNED] = alias
    return client.get(f"/profil/tilknytning/{alias}")


def flashed(client) -> list[tuple[str, str]]:
    with client.session_transaction() as s:
        return [tuple(flash) for flash in s.get("_flashes", [])]


@pytest.mark.parametrize("alias, idp", [("mitid", "MitID"), ("region-nord", "Region Nordjylland")])
@pytest.mark.parametrize("reason", list(WHAT_WAS_WRONG))
def test_a_refused_link_says_what_was_wrong_and_what_to_choose(client, gateway, reason, alias, idp):
    gateway.answer = refused_by_identity(reason)
    response = back_from_linking(client, alias)
    assert response.status_code == 302 and response.headers["Location"] == "/profil"
    assert gateway.calls == [("POST", f"/api/identity/me/federation/{alias}/check")]
    [(category, message)] = flashed(client)
    wrong, instead = WHAT_WAS_WRONG[reason]
    assert category == "error"
    assert message.startswith(f"Den valgte {idp}-profil {wrong}"), message
    assert instead in message and "tilknytningen er fjernet" in message
    # and not what another reason would say
    for other, (other_wrong, _) in WHAT_WAS_WRONG.items():
        if other != reason:
            assert other_wrong not in message
    with client.session_transaction() as s:
        assert s["federation_refused"] == alias


def test_the_first_reason_identity_gives_is_the_one_shown(client, gateway):
    gateway.answer = refused_by_identity("missing_organisation", "missing_professional_id")
    back_from_linking(client, "mitid")
    [(_, message)] = flashed(client)
    assert "ikke knyttet til en organisation (CVR)" in message and "ikke en erhvervsprofil" not in message


def test_a_link_that_was_not_made_says_nothing_changed(client, gateway):
    gateway.answer = NOT_LINKED
    back_from_linking(client, "region-midt")
    assert flashed(client) == [("error", "Tilknytningen til Region Midtjylland blev ikke gennemført, og intet er "
                                         "ændret. Prøv igen.")]


@pytest.mark.parametrize("alias, how", [
    ("mitid", 'fanen "MitID".'),
    ("region-nord", 'fanen "Lokal IdP" og vælge Region Nordjylland.')])
def test_an_accepted_link_says_how_to_log_in_from_now_on(client, gateway, alias, how):
    gateway.answer = {"alias": alias, "linked": True}
    back_from_linking(client, alias)
    [(category, message)] = flashed(client)
    assert category == "message"
    assert message.startswith("Din bruger er nu tilknyttet ") and message.endswith(
        f"Fremover kan du logge ind med {how}")


@pytest.mark.parametrize("started", [None, "region-nord"], ids=["no-linking", "another-idp"])
def test_the_page_after_linking_does_nothing_unless_this_sessions_linking_came_back(client, gateway, started):
    """A link to the page from elsewhere (or for another IdP) neither checks nor unlinks nor audits."""
    if started:
        with client.session_transaction() as s:
            s[LINK_RETURNED] = started
    response = client.get("/profil/tilknytning/mitid")
    assert response.status_code == 302 and response.headers["Location"] == "/profil"
    assert gateway.calls == [] and flashed(client) == []
    # and once only: the same page again does not check again
    back_from_linking(client, "mitid")
    assert client.get("/profil/tilknytning/mitid").status_code == 302
    assert gateway.calls == [("POST", "/api/identity/me/federation/mitid/check")]


# -- after a login through an IdP (the link is kept: only the login is refused) ---------------------

def login_refusal(app, gateway, alias, answer):
    gateway.answer = answer
    with app.test_request_context("/auth/callback"):
        session["tokens"] = dict(TOKENS, access_expires_at=time.time() + 3600)
        message = record_federated_login(alias)
    assert gateway.calls[-1] == ("POST", f"/api/identity/me/federation/{alias}/logins")
    return message


@pytest.mark.parametrize("reason", list(WHAT_WAS_WRONG))
def test_a_refused_login_says_what_was_wrong_and_not_that_the_link_is_gone(app, gateway, reason):
    message = login_refusal(app, gateway, "mitid", refused_by_identity(reason))
    wrong, instead = WHAT_WAS_WRONG[reason]
    assert message.startswith(f"Den valgte MitID-profil {wrong}"), message
    assert instead in message
    assert "login er afvist" in message
    assert "tilknytningen er fjernet" not in message, message  # identity keeps the link on a refused login


def test_a_login_through_an_unlinked_idp_says_to_link_it_first(app, gateway):
    message = login_refusal(app, gateway, "region-syd", NOT_LINKED)
    assert message.startswith("Dit Region Syddanmark-login er ikke (længere) tilknyttet din DANBIO-bruger")
    assert 'tilknyt det under "Ret brugerprofil"' in message


def test_an_accepted_login_says_nothing(app, gateway):
    assert login_refusal(app, gateway, "region-nord", {}) is None
