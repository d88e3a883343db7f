"""The patient pages with the Flask test client, answered by the real patients service (in this
process, on PostgreSQL: tests/patients_gateway.py): the "registered elsewhere" message, "GEM" and
the transfer step (E1), the board's chart (E2), masked CPR in lists, CPR never in a URL or a
redirect, CSRF on every POST form, post/redirect/get with Danish flash messages, Danish errors.
In a real browser against the whole stack: tests/e2e/test_browser_patients.py."""
from __future__ import annotations

import logging
import re
import time
import uuid
from html import unescape

import pytest

from patients.app import create_app as create_patients_app
from patients.domain.organisation import department_id
from patients.service.organisation import bundled_organisation, load_organisation
from servicekit.principal import HEADER, Principal, sign
from servicekit.sealed import generate_key
from web.app import create_app
from web.patients import chart, messages

from services.patients.tests.support import cpr_leaks, render
from services.web.tests.patients_gateway import PatientsGateway, clinician, profile_of

ODENSE, GLOSTRUP = department_id("OUH-REU-C"), department_id("RH-GLO-REU")
NAMES = {ODENSE: "Reumatologisk Afdeling C", GLOSTRUP: "Videncenter for Reumatologi og Rygsygdomme"}
CPR = "150875-2004"      # invented
OTHER_CPR = "290200-4001"


@pytest.fixture
def patients_app(new_database, amqp_url, principal_keys, patients_keys):
    app = create_patients_app({"PATIENTS_DATABASE_URL": new_database("patients"), "DANBIO_BROKER_URL": amqp_url,
                               "DANBIO_PRINCIPAL_PUBLIC_KEY": principal_keys[1], **patients_keys})
    runtime = app.extensions["danbio.runtime"]
    runtime.migrate()
    with runtime.uow() as uow:
        load_organisation(uow, bundled_organisation())
    yield app
    runtime.db.dispose()


@pytest.fixture
def web_env(new_database):
    from servicekit.migrations import upgrade
    from web.__main__ import MIGRATIONS_DIR

    url = new_database("web")
    upgrade(MIGRATIONS_DIR, url)
    return {"WEB_DATABASE_URL": url, "WEB_SESSION_KEY": generate_key(), "DANBIO_KC_WEB_SECRET": "x",
            "WEB_OIDC_ISSUER": "http://127.0.0.1:9/realms/none"}


def signed_in(web_env, patients_app, principal_keys, *departments, principal=None):
    principal = principal or clinician(*departments)
    gateway = PatientsGateway(patients_app, principal, principal_keys[0], profile_of(principal, NAMES))
    app = create_app(web_env)
    app.extensions["web.gateway"] = gateway
    client = app.test_client()
    with client.session_transaction() as session:
        session["tokens"] = {"access_token": "a", "refresh_token": "r", "id_token": "i",
                             "access_expires_at": time.time() + 3600, "refresh_expires_in": 1800}
        session["user"] = {"sub": principal.subject, "name": "Lene Juhl"}
    return client, gateway


@pytest.fixture
def odense(web_env, patients_app, principal_keys):
    return signed_in(web_env, patients_app, principal_keys, ODENSE)


@pytest.fixture
def glostrup(web_env, patients_app, principal_keys):
    return signed_in(web_env, patients_app, principal_keys, GLOSTRUP)


def csrf(client, path="/patienter/opret") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def create(client, cpr=CPR, name="Karen Jensen", department=ODENSE, diagnosis="RA"):
    return client.post("/patienter/opret", data={"csrf_token": csrf(client), "cpr": cpr, "name": name,
                                                 "diagnosis_group": diagnosis, "department_id": str(department),
                                                 "action": "save"})


def test_create_a_patient_then_its_page(odense):
    client, gateway = odense
    form = text(client.get("/patienter/opret"))
    assert "Opret patient" in form and ">GEM<" in form and 'src="/static/cpr-check.js"' in form
    assert "<script>" not in form  # CSP: scripts from files only
    response = create(client)
    assert response.status_code == 302
    assert re.fullmatch(r"/patienter/[0-9a-f-]{36}", response.headers["Location"])
    page = text(client.get(response.headers["Location"]))
    assert "Patienten Karen Jensen (150875-xxxx) er oprettet." in page
    assert CPR in page  # the patient page shows the full number: a clinician needs it there
    assert "Patientens kiosk status" in page
    [post] = [c for c in gateway.calls if c[0] == "POST" and c[1] == "/api/patients/patients"]
    assert post[2]["cpr"] == CPR and post[3] is None


def test_the_cpr_check_names_the_other_departments(odense, glostrup):
    create(glostrup[0], department=GLOSTRUP)
    client, gateway = odense
    token = csrf(client)
    answer = client.post("/patienter/cpr-tjek", data={"csrf_token": token, "cpr": CPR.replace("-", "")}).json
    assert answer["level"] == "warning"
    assert "allerede registreret på anden afdeling: Videncenter for Reumatologi og Rygsygdomme, " \
           "Rigshospitalet, Glostrup" in answer["message"]
    assert client.post("/patienter/cpr-tjek", data={"csrf_token": token, "cpr": "15087"}).json == \
        {"level": "", "message": ""}
    fresh = client.post("/patienter/cpr-tjek", data={"csrf_token": token, "cpr": OTHER_CPR}).json
    assert fresh == {"level": "ok", "message": "Patienten er ikke registreret på nogen afdeling i DANBIO."}
    wrong = client.post("/patienter/cpr-tjek", data={"csrf_token": token, "cpr": "310299-1234"}).json
    assert wrong == {"level": "error", "message": "Fødselsdatoen i CPR-nummeret findes ikke."}
    # Without the script: the button "Tjek CPR-nummer" shows the same in the page.
    page = text(client.post("/patienter/opret", data={"csrf_token": token, "cpr": CPR, "action": "check"}))
    assert "allerede registreret på anden afdeling" in page
    assert "/lookup" in " ".join(c[1] for c in gateway.calls) and all(CPR not in c[1] for c in gateway.calls)


def test_registered_elsewhere_gem_leads_to_the_transfer_request(odense, glostrup):
    create(glostrup[0], department=GLOSTRUP)
    client, gateway = odense
    response = create(client)
    assert response.headers["Location"] == "/overfoersler/ny"
    step = text(client.get("/overfoersler/ny"))
    assert "150875-xxxx" in step and CPR not in step  # the number waits in the session, not the page
    assert "Videncenter for Reumatologi og Rygsygdomme, Rigshospitalet, Glostrup" in step
    assert "Overføres til: <strong>Reumatologisk Afdeling C, Odense Universitetshospital</strong>" in step
    token = csrf(client, "/overfoersler/ny")
    refused = client.post("/overfoersler/ny", data={"csrf_token": token})
    assert refused.status_code == 422 and "Vælg mindst én afdeling" in text(refused)
    sent = client.post("/overfoersler/ny", data={"csrf_token": token, "from_department_ids": str(GLOSTRUP)})
    assert sent.headers["Location"] == "/overfoersler"
    lists = text(client.get("/overfoersler"))
    assert "Anmodningen om overførsel af patienten 150875-xxxx er sendt til: Videncenter" in lists
    assert "Afventer" in lists and CPR not in lists
    [post] = [c for c in gateway.calls if c[1] == "/api/patients/transfers"]
    assert post[2] == {"cpr": CPR, "from_department_ids": [str(GLOSTRUP)], "to_department_id": str(ODENSE)}
    # The draft is used up: the step cannot be sent twice.
    assert client.get("/overfoersler/ny").headers["Location"] == "/patienter/opret"

    # Glostrup sees the request and its notice; rejecting needs a reason.
    other, _ = glostrup
    incoming = text(other.get("/overfoersler"))
    assert "Karen Jensen" in incoming and "Godkend" in incoming
    transfer_id = re.search(r'/overfoersler/([0-9a-f-]{36})/afvis', incoming).group(1)
    token = csrf(other, "/overfoersler")
    no_reason = other.post(f"/overfoersler/{transfer_id}/afvis", data={"csrf_token": token, "reason": " "})
    assert "Skriv en begrundelse" in text(other.get(no_reason.headers["Location"]))
    other.post(f"/overfoersler/{transfer_id}/afvis", data={"csrf_token": token, "reason": "Bliver i Glostrup."})
    notices = text(client.get("/meddelelser"))
    assert "har afvist overførslen af patienten 150875-xxxx" in notices and "Bliver i Glostrup." in notices
    twice = other.post(f"/overfoersler/{transfer_id}/godkend", data={"csrf_token": token})
    assert "Anmodningen er allerede afgjort eller trukket tilbage." in text(other.get(twice.headers["Location"]))


def test_board_overblik_and_request_to_import(odense, glostrup):
    client, _ = odense
    create(client, diagnosis="RA")
    create(client, cpr=OTHER_CPR, name="Jens Hansen", diagnosis="PsA")
    create(glostrup[0], cpr="010190-1009", name="Mette Holm", department=GLOSTRUP)
    assert client.get("/patienttavle").headers["Location"] == f"/afdelinger/{ODENSE}/patienttavle"
    board = text(client.get(f"/afdelinger/{ODENSE}/patienttavle"))
    assert "Patienttavle Graf" in board and ">Overblik<" in board and "<svg" in board
    assert re.findall(r'data-count="(\d+)"', board) == ["1", "1"]
    overview = text(client.get(f"/afdelinger/{ODENSE}/overblik"))
    assert ">Request to import<" in overview
    token = csrf(client, f"/afdelinger/{ODENSE}/import")
    unknown = client.post(f"/afdelinger/{ODENSE}/import", data={"csrf_token": token, "cpr": "020290-1009"})
    assert unknown.status_code == 422 and "Der er ingen patient med dette CPR-nummer i DANBIO." in text(unknown)
    here = client.post(f"/afdelinger/{ODENSE}/import", data={"csrf_token": token, "cpr": CPR})
    assert "Patienten er allerede registreret på afdelingen." in text(here)
    found = client.post(f"/afdelinger/{ODENSE}/import", data={"csrf_token": token, "cpr": "0101901009"})
    assert found.headers["Location"] == "/overfoersler/ny"
    assert "Videncenter for Reumatologi" in text(client.get("/overfoersler/ny"))
    # Another department's board is not the user's.
    assert client.get(f"/afdelinger/{GLOSTRUP}/patienttavle").status_code == 403


def test_lists_show_the_cpr_masked_and_search_keeps_it_out_of_the_page(odense):
    client, _ = odense
    create(client)
    integration = text(client.get(f"/afdelinger/{ODENSE}/app-integration"))
    assert "150875-xxxx" in integration and CPR not in integration and "Ukendt" in integration
    token = csrf(client, "/patienter/soeg")
    by_cpr = text(client.post("/patienter/soeg", data={"csrf_token": token, "kind": "cpr", "criterion": CPR}))
    assert "Karen Jensen" in by_cpr and "150875-xxxx" in by_cpr and CPR not in by_cpr
    by_name = text(client.post("/patienter/soeg", data={"csrf_token": token, "kind": "name", "criterion": "ren je"}))
    assert "Karen Jensen" in by_name
    short = client.post("/patienter/soeg", data={"csrf_token": token, "kind": "name", "criterion": "K"})
    assert short.status_code == 422 and "Skriv mindst 2 bogstaver af navnet." in text(short)
    as_name = text(client.post("/patienter/soeg", data={"csrf_token": token, "kind": "name", "criterion": CPR}))
    assert "Karen Jensen" in as_name and CPR not in as_name
    mixed = client.post("/patienter/soeg", data={"csrf_token": token, "kind": "name", "criterion": f"Karen {CPR}"})
    assert "Et navn må ikke indeholde et CPR-nummer." in text(mixed) and CPR not in text(mixed)


def test_someone_elses_patient_is_not_found_in_danish(odense, glostrup):
    client, _ = odense
    patient_path = create(client).headers["Location"]
    other, _ = glostrup
    for path in (patient_path, f"{patient_path}/kiosk-status"):
        response = other.get(path)
        assert response.status_code == 404 and "Findes ikke" in text(response)
    assert other.get(f"/patienter/{uuid.uuid4()}").status_code == 404


def test_a_registry_administrator_reads_who_accessed_a_patient(odense, web_env, patients_app, principal_keys):
    client, _ = odense
    patient_path = create(client).headers["Location"]
    assert client.get(f"{patient_path}/adgangslog").status_code == 403
    assert "Adgangslog" not in text(client.get(patient_path))
    admin = Principal(subject=str(uuid.uuid4()), kind="user", username="regadmin", registry_admin=True)
    admin_client, _ = signed_in(web_env, patients_app, principal_keys, principal=admin)
    assert "Adgangslog" in text(admin_client.get(patient_path))
    log = text(admin_client.get(f"{patient_path}/adgangslog"))
    assert re.search(r"<td>ouhlaege</td>\s*<td>Oprettede patienten</td>", log), log
    assert "Åbnede patienten" in log and CPR not in log
    # The registry administrator decides transfers but creates no patients: no department links.
    menu = text(admin_client.get("/overfoersler"))
    assert "Overførsler" in menu and "Opret patient" not in menu


def test_every_post_form_has_its_token_and_a_post_without_it_is_refused(odense, glostrup):
    create(glostrup[0], department=GLOSTRUP)
    client, _ = odense
    create(client)   # registered elsewhere: a transfer draft in the session
    client.post("/overfoersler/ny", data={"csrf_token": csrf(client, "/overfoersler/ny"),
                                          "from_department_ids": str(GLOSTRUP)})
    pages = ["/patienter/opret", "/patienter/soeg", f"/afdelinger/{ODENSE}/import", "/overfoersler", "/meddelelser"]
    actions = set()
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        for form in re.findall(r'<form method="post".*?</form>', html, re.S):
            assert 'name="csrf_token"' in form, (path, form[:200])
            actions.add(re.search(r'action="([^"]+)"', form).group(1))
    actions.add("/patienter/cpr-tjek")
    assert len(actions) >= 6
    for action in actions:
        refused = client.post(action, data={"cpr": CPR})
        assert refused.status_code == 400 and "Formularen er udløbet" in text(refused), action


def test_pages_need_a_login(web_env):
    client = create_app(web_env).test_client()
    for path in ("/patienter/opret", "/patienttavle", "/overfoersler", f"/afdelinger/{ODENSE}/app-integration"):
        assert client.get(path).headers["Location"] == f"/login?next={path}"


def test_no_cpr_in_the_web_uis_log_lines(odense, glostrup, caplog):
    caplog.set_level(logging.DEBUG)
    create(glostrup[0], department=GLOSTRUP)
    client, _ = odense
    create(client)
    create(client, cpr="310299-1234")
    client.post("/patienter/cpr-tjek", data={"csrf_token": csrf(client), "cpr": CPR})
    client.post("/patienter/soeg", data={"csrf_token": csrf(client), "kind": "cpr", "criterion": CPR})
    lines = [render(record) for record in caplog.records]   # message, extra fields, traceback
    assert any("request" in line for line in lines)
    assert cpr_leaks(lines) == []


# --- the chart and the words ---------------------------------------------------------------------

def test_chart_bars_are_proportional_and_need_no_inline_style():
    cells = [{"diagnosis_group": "RA", "platform_status": "active", "count": 30},
             {"diagnosis_group": "RA", "platform_status": "inactive", "count": 10},
             {"diagnosis_group": "PsA", "platform_status": "unknown", "count": 20}]
    bars, top = chart.segments(cells, ["RA", "PsA", "axSpA", "other"])
    assert top == 50
    heights = {(b.diagnosis_group, b.platform_status): b.height for b in bars}
    assert heights[("RA", "active")] == pytest.approx(3 * heights[("RA", "inactive")], abs=0.2)
    assert heights[("PsA", "unknown")] == pytest.approx(2 * heights[("RA", "inactive")], abs=0.2)
    svg = chart.render(cells, 'Afdeling <"A&B">')
    assert "style=" not in svg and "<script" not in svg
    assert "Afdeling &lt;&quot;A&amp;B&quot;&gt;" in svg
    assert ">Aktiv<" in svg and ">Inaktiv<" in svg and ">Anden<" in svg
    assert re.findall(r'fill="#5a6878">([^<]+)<', svg) == ["0", "10", "20", "30", "40", "50"]
    big = chart.render([{"diagnosis_group": "RA", "platform_status": "active", "count": 20000}], "Stor")
    assert re.findall(r'fill="#5a6878">([^<]+)<', big) == ["0", "4.000", "8.000", "12.000", "16.000", "20.000"]
    assert chart.render([], "Tom").count("<rect") == 3  # the legend only


@pytest.mark.parametrize("value, top", [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (20000, 20000),
                                        (20001, 50000)])
def test_chart_axis_top(value, top):
    assert chart.nice_maximum(value) == top


def test_field_errors_are_danish_from_the_service_codes():
    from web.adapters.gateway_client import Rejected

    error = Rejected(422, "x", {"errors": {"cpr": ["whatever"], "name": ["x"]},
                                "codes": {"cpr": "cpr_no_such_date"}})
    assert messages.field_errors(error) == {"cpr": "Fødselsdatoen i CPR-nummeret findes ikke.",
                                            "name": "Værdien er ikke gyldig."}
    schema = Rejected(422, "x", {"errors": {"json": {"diagnosis_group": ["Must be one of"]}}})
    assert messages.field_errors(schema) == {"diagnosis_group": "Værdien er ikke gyldig."}
    assert messages.complete_cpr("150875-2004") and messages.complete_cpr(" 1508752004 ")
    assert not messages.complete_cpr("150875-200") and not messages.complete_cpr("15087520045")
    assert messages.when("2026-12-04T08:00:00+00:00") == "04-12-2026 09:00"


def test_a_signed_principal_is_what_the_service_sees(patients_app, principal_keys):
    """The stand-in gateway signs as the real one does: without the header the service refuses."""
    assert patients_app.test_client().get("/departments").status_code == 401
    principal = clinician(ODENSE)
    ok = patients_app.test_client().get("/departments", query_string={"mine": "true"},
                                        headers={HEADER: sign(principal, audience="patients", key=principal_keys[0])})
    assert [d["name"] for d in ok.get_json()] == ["Reumatologisk Afdeling C"]
