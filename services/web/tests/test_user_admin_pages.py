"""BRUGERADMINISTRATION pages with the Flask test client: what they show, what they send to the
gateway (an in-memory stand-in shaped like the contract, tests/users_gateway.py), Danish field
errors with the input kept, CSRF on every form, post/redirect/get with a flash message, escaping.
The same pages against the real services: tests/e2e/test_browser_user_admin.py."""
import re
import time
from html import unescape

import pytest

from servicekit.sealed import generate_key
from web.app import create_app

from services.web.tests.users_gateway import AUH, OUH, REU_C, REU_D, UsersGateway


@pytest.fixture
def env(new_database):
    from servicekit.migrations import upgrade
    from web.__main__ import MIGRATIONS_DIR

    url = new_database("web")
    upgrade(MIGRATIONS_DIR, url)
    # The OIDC provider is only asked at login, which these tests do not do.
    return {"WEB_DATABASE_URL": url, "WEB_SESSION_KEY": generate_key(), "DANBIO_KC_WEB_SECRET": "x",
            "WEB_OIDC_ISSUER": "http://127.0.0.1:9/realms/none"}


@pytest.fixture
def gateway():
    return UsersGateway()


@pytest.fixture
def client(env, gateway):
    app = create_app(env)
    app.extensions["web.gateway"] = gateway
    client = app.test_client()
    with client.session_transaction() as session:
        session["tokens"] = {"access_token": "a", "refresh_token": "r", "id_token": "i",
                             "access_expires_at": time.time() + 3600, "refresh_expires_in": 1800}
        session["user"] = {"sub": "x", "name": "Ole Udsen"}
    return client


def csrf(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def calls(gateway, method, suffix=""):
    return [call for call in gateway.calls if call[0] == method and call[1].endswith(suffix)]


def test_brugere_opens_the_administrators_own_hospital(client, gateway):
    lene = gateway.add_user(OUH, "ouhlaege", "Lene", "Juhl", departments=[REU_C, REU_D], phone_present=True,
                            mitid_linked=True, never_logged_in=False, last_login_at="2026-03-01T11:30:00Z")
    gateway.add_user(OUH, "bounced", "Bo", "Bounce", departments=[REU_C], email_failed=True)
    gateway.add_user(OUH, "spaerret", "Sif", "Spær", departments=[REU_D], blocked=True)
    gateway.add_user(AUH, "aarhus", "Aase", "Aarhus", departments=[])
    gateway.add_user(OUH, "xss", "<script>alert(1)</script>", "Navn", departments=[REU_C])
    response = client.get("/brugere")
    assert response.status_code == 302 and response.headers["Location"] == f"/brugere/{OUH}"
    page = client.get(f"/brugere/{OUH}")
    assert page.status_code == 200
    body = text(page)
    assert "BRUGERADMINISTRATION" in body and "<h1>Brugere</h1>" in body
    assert "Odense Universitetshospital" in body and "Aase" not in body  # only this hospital's users
    row = re.search(r"<tr>\s*<td><a href=\"/brugere/[^\"]+/bruger/" + lene + r"\">Lene Juhl</a>.*?</tr>", body, re.S)
    assert row, body
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row.group(0), re.S)]
    assert cells[:8] == ["Lene Juhl", "ouhlaege", "ouhlaege@example.org", "Kliniker",
                         "Reumatologisk Afdeling C, Reumatologisk Afdeling D",
                         "01.03.2026 kl. 12:30",  # Danish time
                         "Ja", "Ja"], cells
    assert "Aktiv" in cells[8]
    assert "Spærret" in body and "Aldrig logget ind" in body
    # e-mail fejlet asks for a phone number (requirement A1/C2).
    assert "E-mail fejlet" in body and "Tilføj brugerens telefonnummer" in body
    assert "Brugergennemgang overskredet" in body
    assert "Vælg hospital" not in body  # a local administrator of one hospital has nothing to choose
    raw = page.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt; Navn" in raw
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_filters_search_and_pages_are_sent_to_identity_and_kept_in_the_links(client, gateway):
    for number in range(30):
        gateway.add_user(OUH, f"bruger{number:02}", "Bruger", f"Nummer {number}", departments=[REU_C])
    page = text(client.get(f"/brugere/{OUH}?afdeling={REU_C}&status=never_logged_in&q=Bruger&side=1"))
    method, path, _, params = calls(gateway, "GET", "/users")[-1]
    assert path == f"/api/identity/admin/hospitals/{OUH}/users"
    assert params == {"department": REU_C, "status": "never_logged_in", "q": "Bruger", "page": 1, "per_page": 25}
    assert "Side 1 af 2" in page
    next_link = re.search(r'<a href="([^"]+)" rel="next">Næste</a>', page).group(1)
    assert f"afdeling={REU_C}" in next_link and "status=never_logged_in" in next_link and "side=2" in next_link
    assert f'<option value="{REU_C}" selected>' in page and '<option value="never_logged_in" selected>' in page
    second = text(client.get(next_link))
    assert "Side 2 af 2" in second and "Forrige" in second
    # A status or department that is not one of ours is not passed on.
    client.get(f"/brugere/{OUH}?status=drop&afdeling=not-a-uuid&side=x")
    assert calls(gateway, "GET", "/users")[-1][3] == {"page": 1, "per_page": 25}


def test_review_state_filter_is_offered_in_danish_sent_to_identity_and_kept_in_the_links(client, gateway):
    for number in range(30):
        gateway.add_user(OUH, f"bruger{number:02}", "Bruger", f"Nummer {number}", departments=[REU_C])
    page = text(client.get(f"/brugere/{OUH}"))
    select = re.search(r'<label>Gennemgang\s*<select name="gennemgang">(.*?)</select>', page, re.S)
    assert select, page
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)</option>', select.group(1))
    assert options == [("", "Alle"), ("changed", "Ændret siden sidste gennemgang"),
                       ("unchanged", "Uændret siden sidste gennemgang")]
    assert "review" not in calls(gateway, "GET", "/users")[-1][3]  # "Alle": no filter

    page = text(client.get(f"/brugere/{OUH}?gennemgang=changed&status=active&afdeling={REU_C}"))
    assert calls(gateway, "GET", "/users")[-1][3] == {"department": REU_C, "status": "active", "review": "changed",
                                                      "page": 1, "per_page": 25}
    assert '<option value="changed" selected>' in page and '<option value="unchanged">' in page
    next_link = re.search(r'<a href="([^"]+)" rel="next">Næste</a>', page).group(1)
    assert "gennemgang=changed" in next_link and "status=active" in next_link and "side=2" in next_link
    second = text(client.get(next_link))
    assert calls(gateway, "GET", "/users")[-1][3]["review"] == "changed" and "Side 2 af 2" in second
    previous = re.search(r'<a href="([^"]+)" rel="prev">Forrige</a>', second).group(1)
    assert "gennemgang=changed" in previous

    client.get(f"/brugere/{OUH}?gennemgang=unchanged")
    assert calls(gateway, "GET", "/users")[-1][3] == {"review": "unchanged", "page": 1, "per_page": 25}
    # A review state that is not one of ours is not passed on.
    client.get(f"/brugere/{OUH}?gennemgang=drop")
    assert calls(gateway, "GET", "/users")[-1][3] == {"page": 1, "per_page": 25}


def test_a_local_administrator_cannot_open_another_hospital(client, gateway):
    response = client.get(f"/brugere/{AUH}")
    assert response.status_code == 403 and "Ingen adgang" in text(response)
    assert not calls(gateway, "GET", f"{AUH}/users")  # refused before asking identity for its users
    refused = client.get(f"/brugere/{AUH}/opret")
    assert refused.status_code == 403


def test_an_ordinary_user_has_no_user_administration(client, gateway):
    gateway.administers = []
    response = client.get("/brugere")
    assert response.status_code == 403 and "Brugeradministration er kun for" in text(response)


def test_identity_refusing_an_action_shows_a_danish_page(client, gateway):
    gateway.add_user(OUH, "x-user", "X", "User", departments=[REU_C])

    def refuse(*args, **kwargs):
        from web.adapters.gateway_client import NoAccess
        raise NoAccess(403, "forbidden")
    gateway.ROUTES = [(pattern, refuse if "blocked" in pattern else handler) for pattern, handler in gateway.ROUTES]
    response = client.get(f"/brugere/{OUH}/spaerrede")
    assert response.status_code == 403
    assert "Du kan kun administrere brugere på de hospitaler" in text(response) and "Traceback" not in text(response)


def test_registry_administrator_chooses_any_hospital(client, gateway):
    gateway.administers = None
    gateway.add_user(AUH, "aarhus", "Aase", "Aarhus", departments=[])
    page = text(client.get(f"/brugere/{OUH}"))
    assert "Vælg hospital" in page and "Aarhus Universitetshospital" in page
    chosen = client.get(f"/brugere?hospital={AUH}")
    assert chosen.headers["Location"] == f"/brugere/{AUH}"
    assert "Aase Aarhus" in text(client.get(chosen.headers["Location"]))
    assert client.get("/brugere?hospital=nonsense").status_code == 404


def test_create_keeps_the_input_and_shows_danish_errors_next_to_the_fields(client, gateway):
    gateway.add_user(OUH, "taken", "T", "Aken", departments=[REU_C])
    form = text(client.get(f"/brugere/{OUH}/opret"))
    assert "AVANCERET" in form and "Opret bruger" in form
    response = client.post(f"/brugere/{OUH}/opret", data={
        "csrf_token": csrf(form), "username": "taken", "first_name": "Søren", "last_name": "<b>Ærø</b>",
        "email": "ikke-en-adresse", "phone": "12 34", "role": "clinician"})
    assert response.status_code == 422
    page = text(response)
    errors = dict(re.findall(r'<p class="field-error" id="([a-z_]+)-error">([^<]+)</p>', page))
    assert errors == {"username": "Brugernavnet er allerede i brug. Vælg et andet, eller find brugeren under AVANCERET.",
                      "email": "E-mailadressen er ikke gyldig.",
                      "phone": "Telefonnummeret er ikke gyldigt: skriv et dansk nummer med 8 cifre eller et udenlandsk nummer med landekode (fx +46 70 123 45 67).",
                      "departments": "Vælg mindst én afdeling."}
    raw = response.get_data(as_text=True)
    assert 'value="Søren"' in raw and 'value="12 34"' in raw and 'value="ikke-en-adresse"' in raw
    assert "&lt;b&gt;Ærø&lt;/b&gt;" in raw and "<b>Ærø</b>" not in raw  # escaped, never markup
    assert len(gateway.users) == 1


def test_create_posts_the_contract_body_and_redirects_with_a_flash(client, gateway):
    form = text(client.get(f"/brugere/{OUH}/opret"))
    response = client.post(f"/brugere/{OUH}/opret", data={
        "csrf_token": csrf(form), "username": "ny.bruger", "first_name": "Ny", "last_name": "Bruger",
        "email": "ny.bruger@example.org", "phone": "", "role": "secretary", "departments": [REU_C, REU_D]})
    assert response.status_code == 302
    _, path, body, _ = calls(gateway, "POST", "/users")[-1]
    assert path == f"/api/identity/admin/hospitals/{OUH}/users"
    assert body == {"username": "ny.bruger", "first_name": "Ny", "last_name": "Bruger", "email": "ny.bruger@example.org",
                    "phone": None, "role": "secretary", "departments": [REU_C, REU_D]}
    user_page = text(client.get(response.headers["Location"]))
    assert "Brugeren ny.bruger er oprettet" in user_page and "Sekretær" in user_page
    assert "Historik" in user_page and "Oprettet" in user_page and "02.03.2026 kl. 14:05" in user_page
    audit = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.search(r'<table class="audit">.*?</table>', user_page, re.S).group(0)))
    assert "Brugernavn: ny.bruger" in audit and "Rolle: Kliniker" in audit
    assert "Afdelinger: Reumatologisk Afdeling C" in audit and "internal" not in audit  # ids are not shown
    assert "Brugeren ny.bruger er oprettet" not in text(client.get(response.headers["Location"]))  # flash shown once


def test_create_without_csrf_token_is_refused(client, gateway):
    response = client.post(f"/brugere/{OUH}/opret", data={"username": "x"})
    assert response.status_code == 400 and "Formularen er udløbet" in text(response)
    assert not calls(gateway, "POST")


def test_create_while_keycloak_is_down_keeps_the_form(client, gateway):
    gateway.keycloak_down = True
    form = text(client.get(f"/brugere/{OUH}/opret"))
    response = client.post(f"/brugere/{OUH}/opret", data={
        "csrf_token": csrf(form), "username": "ny", "first_name": "Ny", "last_name": "B",
        "email": "ny@example.org", "role": "clinician", "departments": [REU_C]})
    assert response.status_code == 503
    assert "intet blev gemt" in text(response) and 'value="ny@example.org"' in response.get_data(as_text=True)
    assert f'value="{REU_C}" checked' in response.get_data(as_text=True)


def test_avanceret_finds_users_of_other_hospitals_and_adds_them(client, gateway):
    aase = gateway.add_user(AUH, "aase.aarhus", "Aase", "Aarhus", departments=[])
    short = client.get(f"/brugere/{OUH}/avanceret?q=aa")
    assert short.status_code == 422 and "Skriv mindst 3 tegn." in text(short)
    found = text(client.get(f"/brugere/{OUH}/avanceret?q=AASE"))
    assert "Aase Aarhus" in found and "Aarhus Universitetshospital" in found
    assert "Tilføj bruger til eget hospital" in found
    add_page = text(client.get(f"/brugere/{OUH}/tilfoej/{aase}?q=AASE"))
    assert "aase.aarhus@example.org" in add_page and "Reumatologisk Afdeling C" in add_page
    missing = client.post(f"/brugere/{OUH}/tilfoej/{aase}", data={"csrf_token": csrf(add_page), "q": "AASE",
                                                                   "role": "clinician"})
    assert missing.status_code == 422 and "Vælg mindst én afdeling." in text(missing)
    response = client.post(f"/brugere/{OUH}/tilfoej/{aase}", data={"csrf_token": csrf(add_page), "q": "AASE",
                                                                    "role": "clinician", "departments": [REU_D]})
    assert response.status_code == 302
    assert calls(gateway, "POST", "/membership")[-1][2] == {"role": "clinician", "departments": [REU_D]}
    assert (aase, AUH) in gateway.memberships  # the other hospital is untouched
    page = text(client.get(response.headers["Location"]))
    assert "er tilføjet til Odense Universitetshospital" in page and "Reumatologisk Afdeling D" in page
    again = text(client.get(f"/brugere/{OUH}/avanceret?q=aase"))
    assert "Allerede på dit hospital" in again
    twice = client.post(f"/brugere/{OUH}/tilfoej/{aase}", data={"csrf_token": csrf(add_page), "role": "clinician",
                                                                 "departments": [REU_D]})
    assert twice.status_code == 422 and "Brugeren er allerede tilknyttet dit hospital." in text(twice)


def test_rediger_bruger_removes_a_department_and_then_the_hospital(client, gateway):
    lene = gateway.add_user(OUH, "ouhlaege", "Lene", "Juhl", departments=[REU_C, REU_D])
    form = text(client.get(f"/brugere/{OUH}/bruger/{lene}/rediger"))
    assert "Rediger bruger" in form and "Gem ændringer" in form
    assert f'value="{REU_C}" checked' in form and f'value="{REU_D}" checked' in form
    saved = client.post(f"/brugere/{OUH}/bruger/{lene}/rediger",
                        data={"csrf_token": csrf(form), "role": "local_admin", "departments": [REU_C]})
    assert saved.status_code == 302 and saved.headers["Location"] == f"/brugere/{OUH}/bruger/{lene}"
    assert calls(gateway, "PUT", "/access")[-1][2] == {"role": "local_admin", "departments": [REU_C]}
    page = text(client.get(saved.headers["Location"]))
    assert "Ændringerne er gemt." in page and "Lokal brugeradministrator" in page
    removed = client.post(f"/brugere/{OUH}/bruger/{lene}/rediger", data={"csrf_token": csrf(form), "role": "clinician"})
    assert removed.headers["Location"] == f"/brugere/{OUH}"
    assert calls(gateway, "PUT", "/access")[-1][2] == {"role": "clinician", "departments": []}
    assert "er fjernet fra hospitalet" in text(client.get(removed.headers["Location"]))
    assert client.get(f"/brugere/{OUH}/bruger/{lene}").status_code == 404


def test_rediger_bruger_from_a_stale_form_is_refused_and_shows_what_is_there_now(client, gateway):
    """Another administrator saved in between: nothing is overwritten; the form shows the current access."""
    lene = gateway.add_user(OUH, "ouhlaege", "Lene", "Juhl", departments=[REU_C, REU_D])
    form = text(client.get(f"/brugere/{OUH}/bruger/{lene}/rediger"))
    version = re.search(r'name="version" value="([^"]+)"', form).group(1)
    gateway.memberships[(lene, OUH)] = {"role": "clinician", "departments": [REU_C]}  # the other administrator
    stale = client.post(f"/brugere/{OUH}/bruger/{lene}/rediger",
                        data={"csrf_token": csrf(form), "role": "local_admin", "departments": [REU_C, REU_D],
                              "version": version})
    assert calls(gateway, "PUT", "/access")[-1][2]["version"] == version
    page = text(stale)
    assert stale.status_code == 409
    assert "ændret af en anden, mens du redigerede" in page and "ikke gemt" in page
    assert gateway.memberships[(lene, OUH)] == {"role": "clinician", "departments": [REU_C]}
    assert f'value="{REU_C}" checked' in page and f'value="{REU_D}" checked' not in page
    again = client.post(f"/brugere/{OUH}/bruger/{lene}/rediger",
                        data={"csrf_token": csrf(page), "role": "local_admin", "departments": [REU_C, REU_D],
                              "version": re.search(r'name="version" value="([^"]+)"', page).group(1)})
    assert again.status_code == 302
    saved = gateway.memberships[(lene, OUH)]
    assert saved["role"] == "local_admin" and sorted(saved["departments"]) == sorted([REU_C, REU_D])


def test_review_page_documents_the_review_with_one_button(client, gateway):
    page = text(client.get(f"/brugere/{OUH}/gennemgang"))
    assert "Ingen endnu" in page and "Brugergennemgang overskredet" in page
    button = "Tryk på denne knap for at dokumentere brugergennemgang d.d."
    assert button in page
    response = client.post(f"/brugere/{OUH}/gennemgang", data={"csrf_token": csrf(page)})
    assert response.status_code == 302 and response.headers["Location"] == f"/brugere/{OUH}/gennemgang"
    after = text(client.get(response.headers["Location"]))
    assert "er dokumenteret i dag" in after and "01.04.2026 af Ole Udsen" in after
    assert "Brugergennemgang overskredet" not in after
    assert "Lene Juhl (ouhlaege):" in after and "Reumatologisk Afdeling D" in after


def test_blocked_users_are_unlocked_with_nulstil_kode(client, gateway):
    sif = gateway.add_user(OUH, "spaerret", "Sif", "Spær", departments=[REU_D], blocked=True)
    gateway.add_user(OUH, "fri", "Fri", "Bruger", departments=[REU_D])
    page = text(client.get(f"/brugere/{OUH}/spaerrede"))
    assert "Sif Spær" in page and "Fri Bruger" not in page and "Nulstil kode" in page
    response = client.post(f"/brugere/{OUH}/bruger/{sif}/nulstil-kode", data={"csrf_token": csrf(page)})
    assert response.status_code == 302 and response.headers["Location"] == f"/brugere/{OUH}/spaerrede"
    assert gateway.unlocked == [sif]
    after = text(client.get(response.headers["Location"]))
    assert "Spærringen er ophævet" in after and "Ingen brugere er spærret." in after
    assert client.post(f"/brugere/{OUH}/bruger/{sif}/nulstil-kode").status_code == 400  # no CSRF token


def test_user_page_with_failed_email_asks_for_a_phone_number(client, gateway):
    bo = gateway.add_user(OUH, "bounced", "Bo", "Bounce", departments=[REU_C], email_failed=True, blocked=True)
    page = text(client.get(f"/brugere/{OUH}/bruger/{bo}"))
    assert "E-mail fejlet" in page and "Tilføj brugerens telefonnummer" in page
    assert "Rediger bruger" in page and "Nulstil kode" in page  # blocked: unlock from the user's page too
