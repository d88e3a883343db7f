"""Patients through the API: look-up of a typed CPR (E1), create, read, change, search (G), and who
may do which."""
import uuid

from services.patients.tests.support import AARHUS, CPR_A, CPR_B, CPR_C, CPR_MOD11_EXCEPTION, GLOSTRUP, ODENSE, new_patient


def test_lookup_of_an_unknown_cpr(caller):
    response = caller(ODENSE).post("/patients/lookup", {"cpr": CPR_A})
    assert response.status_code == 200
    assert response.json == {"cpr_masked": "010190-xxxx", "modulus11_valid": True, "known": False,
                             "patient_id": None, "your_departments": [], "other_departments": []}


def test_lookup_names_the_other_departments_only(caller):
    odense = caller(ODENSE)
    created = new_patient(odense, ODENSE, CPR_A, name="Karen Jensen", diagnosis_group="PsA")

    elsewhere = caller(GLOSTRUP).post("/patients/lookup", {"cpr": CPR_A.replace("-", "")})
    assert elsewhere.status_code == 200
    assert elsewhere.json["known"] is True
    assert elsewhere.json["patient_id"] is None
    assert elsewhere.json["your_departments"] == []
    assert elsewhere.json["other_departments"] == [
        {"id": str(ODENSE), "name": "Reumatologisk Afdeling C", "hospital_name": "Odense Universitetshospital"}]
    for secret in ("Karen", "Jensen", "PsA", created["id"], CPR_A, CPR_A.replace("-", "")):
        assert secret not in elsewhere.get_data(as_text=True)

    own = odense.post("/patients/lookup", {"cpr": CPR_A})
    assert own.json["patient_id"] == created["id"]
    assert [d["id"] for d in own.json["your_departments"]] == [str(ODENSE)]
    assert own.json["other_departments"] == []


def test_lookup_of_an_invalid_cpr_is_a_clear_error_without_the_number(caller):
    response = caller(ODENSE).post("/patients/lookup", {"cpr": "310299-1234"})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.json["errors"] == {"cpr": ["the date of birth in the CPR number does not exist"]}
    assert "310299" not in response.get_data(as_text=True)
    missing = caller(ODENSE).post("/patients/lookup", {})
    assert missing.status_code == 422 and "cpr" in missing.json["errors"]["json"]


def test_create_a_patient(caller):
    response = caller(ODENSE).post("/patients", {"cpr": CPR_B, "name": "  Jens   Hansen ", "diagnosis_group": "axSpA",
                                                 "department_id": str(ODENSE)})
    assert response.status_code == 201, response.json
    body = response.json
    assert uuid.UUID(body["id"]).version == 4   # opaque: nothing of the CPR in it
    assert body["cpr"] == CPR_B and body["cpr_masked"] == "150875-xxxx"
    assert body["name"] == "Jens Hansen" and body["diagnosis_group"] == "axSpA"
    assert body["platform_status"] is None
    [registration] = body["registrations"]
    assert registration["department"]["id"] == str(ODENSE) and registration["active"] is True
    assert registration["ended_at"] is None


def test_a_cpr_failing_modulus_11_is_accepted(caller):
    created = new_patient(caller(ODENSE), ODENSE, CPR_MOD11_EXCEPTION)
    assert created["cpr"] == CPR_MOD11_EXCEPTION
    assert caller(ODENSE).post("/patients/lookup", {"cpr": CPR_MOD11_EXCEPTION}).json["modulus11_valid"] is False


def test_create_refuses_bad_input_and_changes_nothing(caller):
    odense = caller(ODENSE)
    cases = [
        ({"cpr": "290201-1234", "name": "A", "diagnosis_group": "RA"}, "cpr"),
        ({"cpr": CPR_A, "name": " ", "diagnosis_group": "RA"}, "name"),
    ]
    for body, field in cases:
        response = odense.post("/patients", {**body, "department_id": str(ODENSE)})
        assert response.status_code == 422, response.json
        assert field in response.json["errors"]
    bad_group = odense.post("/patients", {"cpr": CPR_A, "name": "A", "diagnosis_group": "gout",
                                          "department_id": str(ODENSE)})
    assert bad_group.status_code == 422 and "diagnosis_group" in bad_group.json["errors"]["json"]
    unknown_field = odense.post("/patients", {"cpr": CPR_A, "name": "A", "diagnosis_group": "RA",
                                              "department_id": str(ODENSE), "admin": True})
    assert unknown_field.status_code == 422
    assert odense.post("/patients/lookup", {"cpr": CPR_A}).json["known"] is False


def test_create_only_at_one_of_your_own_departments(caller):
    body = {"cpr": CPR_A, "name": "A B", "diagnosis_group": "RA", "department_id": str(GLOSTRUP)}
    assert caller(ODENSE).post("/patients", body).status_code == 403
    # A registry administrator works with patients through departments too.
    assert caller(registry_admin=True).post("/patients", body).status_code == 403
    assert caller(platform=True).post("/patients", body).status_code == 403
    assert caller(GLOSTRUP).post("/patients", body).status_code == 201


def test_create_at_a_closed_department_is_refused(caller, runtime):
    from patients.adapters.tables import departments

    with runtime.uow() as uow:
        uow.session.execute(departments.update().where(departments.c.id == AARHUS).values(active=False))
        uow.commit()
    response = caller(AARHUS).post("/patients", {"cpr": CPR_A, "name": "A B", "diagnosis_group": "RA",
                                                 "department_id": str(AARHUS)})
    assert response.status_code == 422
    assert response.json["errors"] == {"department_id": ["the department is closed"]}


def test_an_existing_cpr_is_a_conflict_that_says_where(caller):
    new_patient(caller(ODENSE), ODENSE, CPR_A)
    again = caller(ODENSE).post("/patients", {"cpr": CPR_A.replace("-", ""), "name": "Other", "diagnosis_group": "RA",
                                              "department_id": str(ODENSE)})
    assert again.status_code == 409
    assert again.json["detail"] == "The patient is already registered at this department."

    elsewhere = caller(GLOSTRUP).post("/patients", {"cpr": CPR_A, "name": "Other", "diagnosis_group": "RA",
                                                    "department_id": str(GLOSTRUP)})
    assert elsewhere.status_code == 409
    assert elsewhere.json["errors"] == {"registered_at": ["Reumatologisk Afdeling C, Odense Universitetshospital"]}
    assert "Karen" not in elsewhere.get_data(as_text=True)


def test_read_a_patient_of_your_department(caller):
    created = new_patient(caller(ODENSE), ODENSE, CPR_C, name="Ole Olsen", diagnosis_group="other")
    page = caller(ODENSE, AARHUS).get(f"/patients/{created['id']}")
    assert page.status_code == 200
    assert page.json["cpr"] == CPR_C and page.json["name"] == "Ole Olsen"
    assert page.json == created


def test_nobody_reads_a_patient_of_another_department(caller):
    created = new_patient(caller(ODENSE), ODENSE)
    response = caller(GLOSTRUP).get(f"/patients/{created['id']}")
    assert response.status_code == 404
    assert "Karen" not in response.get_data(as_text=True)
    assert caller().get(f"/patients/{created['id']}").status_code == 404           # no departments at all
    assert caller(platform=True).get(f"/patients/{created['id']}").status_code == 403
    assert caller(ODENSE).get(f"/patients/{uuid.uuid4()}").status_code == 404
    assert caller(ODENSE).get("/patients/not-an-id").status_code == 404


def test_a_registry_administrator_reads_any_patient(caller):
    created = new_patient(caller(ODENSE), ODENSE)
    assert caller(registry_admin=True).get(f"/patients/{created['id']}").json["name"] == "Karen Jensen"


def test_change_name_and_diagnosis_group(caller):
    created = new_patient(caller(ODENSE), ODENSE)
    changed = caller(ODENSE).patch(f"/patients/{created['id']}", {"name": "Karen Jensen-Holm",
                                                                 "diagnosis_group": "PsA"})
    assert changed.status_code == 200
    assert (changed.json["name"], changed.json["diagnosis_group"]) == ("Karen Jensen-Holm", "PsA")
    assert caller(ODENSE).patch(f"/patients/{created['id']}", {"diagnosis_group": "x"}).status_code == 422
    assert caller(GLOSTRUP).patch(f"/patients/{created['id']}", {"name": "X"}).status_code == 404
    assert caller(registry_admin=True).patch(f"/patients/{created['id']}", {"name": "X"}).status_code == 403
    assert caller(ODENSE).get(f"/patients/{created['id']}").json["name"] == "Karen Jensen-Holm"
    # The department's board, list and name search see the change at once.
    assert [p["id"] for p in caller(ODENSE).post("/patients/search", {"name": "holm"}).json] == [created["id"]]
    assert caller(ODENSE).get(f"/departments/{ODENSE}/board").json["by_diagnosis"]["PsA"] == 1
    listed = caller(ODENSE).get(f"/departments/{ODENSE}/patients").json["items"]
    assert [(p["name"], p["diagnosis_group"]) for p in listed] == [("Karen Jensen-Holm", "PsA")]


def test_search_by_cpr_within_your_departments(caller):
    created = new_patient(caller(ODENSE), ODENSE, CPR_A)
    found = caller(ODENSE).post("/patients/search", {"cpr": CPR_A})
    assert found.status_code == 200
    assert found.json == [{"id": created["id"], "cpr_masked": "010190-xxxx", "name": "Karen Jensen",
                           "diagnosis_group": "RA", "platform_status": None,
                           "departments": [{"id": str(ODENSE), "name": "Reumatologisk Afdeling C",
                                            "hospital_name": "Odense Universitetshospital"}]}]
    assert caller(GLOSTRUP).post("/patients/search", {"cpr": CPR_A}).json == []
    assert caller(ODENSE).post("/patients/search", {"cpr": CPR_B}).json == []


def test_search_by_part_of_the_name(caller):
    odense, glostrup = caller(ODENSE), caller(GLOSTRUP)
    new_patient(odense, ODENSE, CPR_A, name="Karen Jensen")
    new_patient(odense, ODENSE, CPR_B, name="Jens Hansen")
    new_patient(glostrup, GLOSTRUP, CPR_C, name="Jensine Berg")
    names = [p["name"] for p in odense.post("/patients/search", {"name": "JENS"}).json]
    assert names == ["Jens Hansen", "Karen Jensen"]
    assert [p["name"] for p in caller(ODENSE, GLOSTRUP).post("/patients/search", {"name": "jens"}).json] == [
        "Jens Hansen", "Jensine Berg", "Karen Jensen"]
    only_glostrup = caller(ODENSE, GLOSTRUP).post("/patients/search", {"name": "jens", "department_id": str(GLOSTRUP)})
    assert [p["name"] for p in only_glostrup.json] == ["Jensine Berg"]
    # LIKE wildcards are plain characters
    assert odense.post("/patients/search", {"name": "%%"}).json == []
    assert odense.post("/patients/search", {"name": "_a"}).json == []


def test_search_refuses_unclear_criteria(caller):
    odense = caller(ODENSE)
    assert odense.post("/patients/search", {}).status_code == 422
    assert odense.post("/patients/search", {"cpr": CPR_A, "name": "Karen"}).status_code == 422
    assert odense.post("/patients/search", {"name": "K"}).status_code == 422
    assert odense.post("/patients/search", {"cpr": "123"}).status_code == 422
    assert odense.post("/patients/search", {"name": "Karen", "department_id": str(GLOSTRUP)}).status_code == 403
    assert caller(platform=True).post("/patients/search", {"name": "Karen"}).status_code == 403


def test_search_is_a_post_never_a_query_string(caller):
    assert caller(ODENSE).get("/patients/search", query_string={"cpr": CPR_A}).status_code == 405
    assert caller(ODENSE).get("/patients/lookup", query_string={"cpr": CPR_A}).status_code == 405


def test_my_departments(caller):
    mine = caller(ODENSE, AARHUS).get("/departments", query_string={"mine": "true"}).json
    assert sorted(d["code"] for d in mine) == ["AUH-LBR", "OUH-REU-C"]
    assert len(caller(ODENSE).get("/departments").json) == 21
