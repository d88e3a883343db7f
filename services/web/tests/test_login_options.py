"""The front page's login options (requirement D3, issue 8) come from one file ops can change:
LoginOptions (WEB_LOGIN_OPTIONS_FILE, default web/login_options.json). The default gives D3's order
per workplace; another file changes what the front page offers; a file the web UI cannot use stops
start-up with a message naming the setting. The same page in a browser against the real realm:
tests/e2e/test_federation_login.py."""
import json
import re
import time
from html import unescape

import pytest

from servicekit.config import ConfigError
from web.app import create_app
from web.auth import LINK_RETURNED
from web.federation import DEFAULT_OPTIONS_FILE, LoginOptions

from services.web.tests.test_user_admin_pages import env  # noqa: F401  (a migrated web database)

D3 = {  # requirement D3: workplace -> the tabs to try, in order (and the region's own IdP)
    "Privat praksis": (("mitid",), None),
    "Region Hovedstaden": (("mitid",), None),
    "Region Sjælland": (("mitid",), None),
    "Region Midtjylland": (("lokal",), "region-midt"),
    "Region Syddanmark": (("mitid", "lokal"), "region-syd"),
    "Region Nordjylland": (("mitid", "lokal"), "region-nord"),
}


def options_file(tmp_path, content) -> str:
    path = tmp_path / "login_options.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), "utf-8")
    return str(path)


def front_page(app) -> str:
    response = app.test_client().get("/")
    assert response.status_code == 200
    return unescape(response.get_data(as_text=True))


def region_choices(page: str) -> list[tuple[str, str]]:
    chooser = re.search(r'<select id="lokal-idp-region" name="idp">(.*?)</select>', page, re.S).group(1)
    return re.findall(r'<option value="([^"]*)">([^<]*)</option>', chooser)


def advice(page: str) -> list[tuple[str, str]]:
    section = re.search(r'<div class="login-advice">(.*?)</div>', page, re.S).group(1)
    return re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", section)


# -- the default configuration ---------------------------------------------------------------------

def test_the_default_file_is_d3():
    options = LoginOptions.load(DEFAULT_OPTIONS_FILE)
    assert options.mitid_alias == "mitid"
    assert {w.name: (w.tabs, w.idp) for w in options.workplaces} == D3
    assert [w.name for w in options.workplaces] == list(D3)
    assert [(w.name, w.idp) for w in options.regional_idps] == [
        ("Region Midtjylland", "region-midt"), ("Region Syddanmark", "region-syd"),
        ("Region Nordjylland", "region-nord")]
    assert options.aliases == {"mitid", "region-midt", "region-syd", "region-nord"}


def test_the_front_page_without_the_setting_advises_as_d3(env):
    page = front_page(create_app(env))
    # MitID tab, then Lokal IdP tab, then the advice.
    assert page.index('id="fane-mitid"') < page.index('id="fane-lokal-idp"') < page.index('class="login-advice"')
    assert '<a class="button" href="/login?idp=mitid">Fortsæt til MitID</a>' in page
    assert region_choices(page) == [("region-midt", "Region Midtjylland"), ("region-syd", "Region Syddanmark"),
                                    ("region-nord", "Region Nordjylland")]
    assert advice(page) == [
        ("Privat praksis", 'Brug fanen "MitID".'),
        ("Region Hovedstaden", 'Brug fanen "MitID".'),
        ("Region Sjælland", 'Brug fanen "MitID".'),
        ("Region Midtjylland", 'Brug fanen "Lokal IdP" og vælg Region Midtjylland.'),
        ("Region Syddanmark", 'Brug først fanen "MitID". Lykkes det ikke, så brug fanen "Lokal IdP" og vælg '
                              'Region Syddanmark.'),
        ("Region Nordjylland", 'Brug først fanen "MitID". Lykkes det ikke, så brug fanen "Lokal IdP" og vælg '
                               'Region Nordjylland.'),
    ]


# -- ops change the file ---------------------------------------------------------------------------

CHANGED = {
    "mitid_alias": "mitid",
    "workplaces": [
        # Nord now uses its own IdP first, Midt falls back to MitID, Syd only MitID; the chooser follows
        # the file's order (Nord before Midt).
        {"name": "Region Nordjylland", "tabs": ["lokal", "mitid"], "idp": "region-nord"},
        {"name": "Region Midtjylland", "tabs": ["lokal", "mitid"], "idp": "region-midt"},
        {"name": "Region Syddanmark", "tabs": ["mitid"], "idp": "region-syd"},
        {"name": "Privat praksis", "tabs": ["mitid"]},
    ],
}


def test_a_changed_file_changes_the_front_page(env, tmp_path):
    app = create_app({**env, "WEB_LOGIN_OPTIONS_FILE": options_file(tmp_path, CHANGED)})
    page = front_page(app)
    assert region_choices(page) == [("region-nord", "Region Nordjylland"), ("region-midt", "Region Midtjylland")]
    assert advice(page) == [
        ("Region Nordjylland", 'Brug først fanen "Lokal IdP" og vælg Region Nordjylland. Lykkes det ikke, så brug '
                               'fanen "MitID".'),
        ("Region Midtjylland", 'Brug først fanen "Lokal IdP" og vælg Region Midtjylland. Lykkes det ikke, så brug '
                               'fanen "MitID".'),
        ("Region Syddanmark", 'Brug fanen "MitID".'),
        ("Privat praksis", 'Brug fanen "MitID".'),
    ]
    assert "Region Hovedstaden" not in page and "Region Sjælland" not in page
    # The default file is not read at all.
    assert app.extensions["web.login_options"].aliases == {"mitid", "region-nord", "region-midt"}


class RecordingGateway:
    def __init__(self):
        self.calls = []

    def call(self, method, path, **_):
        self.calls.append((method, path))
        return {"links": []}


def test_an_idp_the_file_no_longer_offers_cannot_be_linked(env, tmp_path):
    """Region Syd has no Lokal IdP in the changed file: linking to it reaches neither Keycloak nor identity."""
    app = create_app({**env, "WEB_LOGIN_OPTIONS_FILE": options_file(tmp_path, CHANGED)})
    app.config["WTF_CSRF_ENABLED"] = False  # not what this test is about
    app.extensions["web.gateway"] = gateway = RecordingGateway()
    client = app.test_client()
    with client.session_transaction() as session:
        session["tokens"] = {"access_token": "a", "refresh_token": "r", "id_token": "i",
                             "access_expires_at": time.time() + 3600, "refresh_expires_in": 1800}
        session["user"] = {"sub": "x", "name": "Ole Udsen"}
        session[LINK_RETURNED] = "region-syd"  # even back from linking it, nothing is checked
    for response in (client.post("/profil/tilknyt/region-syd"), client.get("/profil/tilknytning/region-syd"),
                     client.post("/profil/tilknytning/region-syd/fjern")):
        assert response.status_code == 302 and response.headers["Location"] == "/profil"
    assert gateway.calls == []
    # The one still offered is checked with identity on return.
    with client.session_transaction() as session:
        session[LINK_RETURNED] = "region-nord"
    assert client.get("/profil/tilknytning/region-nord").status_code == 302
    assert gateway.calls == [("POST", "/api/identity/me/federation/region-nord/check")]


# -- a file the web UI cannot use stops start-up ---------------------------------------------------

def workplaces(*entries) -> dict:
    return {"mitid_alias": "mitid", "workplaces": list(entries)}


@pytest.mark.parametrize("content", [
    pytest.param("{ not json", id="not JSON"),
    pytest.param({"workplaces": []}, id="no mitid_alias"),
    pytest.param({"mitid_alias": "mitid"}, id="no workplaces"),
    pytest.param(workplaces({"tabs": ["mitid"]}), id="workplace without a name"),
    pytest.param(workplaces({"name": "Region Hovedstaden", "tabs": []}), id="no tabs"),
    pytest.param(workplaces({"name": "Region Hovedstaden", "tabs": ["MitID"]}), id="unknown tab"),
    pytest.param(workplaces({"name": "Region Midtjylland", "tabs": ["lokal"]}), id="lokal without an idp"),
    pytest.param(workplaces({"name": "Region Nordjylland", "tabs": ["mitid", "lokal"], "idp": "region-nrod"}),
                 id="unknown region IdP alias"),
    pytest.param({**workplaces({"name": "Privat praksis", "tabs": ["mitid"]}), "mitid_alias": "mit-id"},
                 id="unknown MitID alias"),
])
def test_a_file_the_web_ui_cannot_use_stops_start_up_naming_the_setting(env, tmp_path, content):
    path = options_file(tmp_path, content)
    with pytest.raises(ConfigError) as refused:
        create_app({**env, "WEB_LOGIN_OPTIONS_FILE": path})
    assert "WEB_LOGIN_OPTIONS_FILE" in str(refused.value)
    assert path in str(refused.value)


def test_a_missing_file_stops_start_up_naming_the_setting(env, tmp_path):
    missing = str(tmp_path / "nowhere.json")
    with pytest.raises(ConfigError, match="WEB_LOGIN_OPTIONS_FILE") as refused:
        create_app({**env, "WEB_LOGIN_OPTIONS_FILE": missing})
    assert missing in str(refused.value)
