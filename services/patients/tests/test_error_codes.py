"""Refusals carry one machine-readable code per field (problem ``codes``): the web UI words them in
Danish rather than showing the service's English text or guessing from it."""
import pytest

from services.patients.tests.support import CPR_A, CPR_B, GLOSTRUP, ODENSE, new_patient


@pytest.mark.parametrize("cpr, code", [
    ("0101901", "cpr_format"), ("310299-1234", "cpr_no_such_date"), ("010130-4000", "cpr_future"),
])
def test_cpr_refusals_say_what_is_wrong(caller, cpr, code):
    response = caller(ODENSE).post("/patients/lookup", {"cpr": cpr})
    assert response.status_code == 422
    assert response.json["codes"] == {"cpr": code}


def test_create_refusals(caller):
    odense = caller(ODENSE)
    body = {"cpr": CPR_A, "name": "Karen Jensen", "diagnosis_group": "RA", "department_id": str(ODENSE)}
    assert odense.post("/patients", {**body, "name": "  "}).json["codes"] == {"name": "name_length"}
    refused = odense.post("/patients", {**body, "department_id": str(GLOSTRUP)})
    assert refused.status_code == 403 and refused.json["codes"] == {"department_id": "not_your_department"}
    new_patient(odense, ODENSE, CPR_A)
    again = odense.post("/patients", body)
    assert again.status_code == 409 and again.json["codes"] == {"cpr": "registered_here"}
    elsewhere = caller(GLOSTRUP).post("/patients", {**body, "department_id": str(GLOSTRUP)})
    assert elsewhere.status_code == 409 and elsewhere.json["codes"] == {"cpr": "registered_elsewhere"}


def test_transfer_refusals(caller):
    odense, glostrup = caller(ODENSE), caller(GLOSTRUP)
    new_patient(odense, ODENSE, CPR_A)
    body = {"cpr": CPR_A, "from_department_ids": [str(ODENSE)], "to_department_id": str(GLOSTRUP)}
    unknown = glostrup.post("/transfers", {**body, "cpr": CPR_B})
    assert unknown.status_code == 422 and unknown.json["codes"] == {"cpr": "cpr_unknown"}
    wrong_source = glostrup.post("/transfers", {**body, "from_department_ids": [str(GLOSTRUP)]})
    assert wrong_source.json["codes"] == {"from_department_ids": "not_registered_there"}
    at_home = odense.post("/transfers", {**body, "to_department_id": str(ODENSE)})
    assert at_home.status_code == 409 and at_home.json["codes"] == {"to_department_id": "registered_here"}
    made = glostrup.post("/transfers", body)
    assert made.status_code == 201
    twice = glostrup.post("/transfers", body)
    assert twice.status_code == 409 and twice.json["codes"] == {"from_department_ids": "transfer_pending"}
    transfer_id = made.json[0]["id"]
    no_reason = odense.post(f"/transfers/{transfer_id}/reject", {"reason": " "})
    assert no_reason.status_code == 422 and no_reason.json["codes"] == {"reason": "reason_required"}
    assert glostrup.post(f"/transfers/{transfer_id}/cancel").status_code == 200
    closed = odense.post(f"/transfers/{transfer_id}/approve", {})
    assert closed.status_code == 409 and closed.json["codes"] == {"transfer": "transfer_closed"}


def test_search_by_a_name_too_short(caller):
    response = caller(ODENSE).post("/patients/search", {"name": "a"})
    assert response.status_code == 422 and response.json["codes"] == {"name": "name_too_short"}


def test_a_cpr_typed_as_a_name_is_searched_as_a_cpr_and_never_kept_in_the_clear(caller, runtime):
    from sqlalchemy import text

    odense = caller(ODENSE)
    new_patient(odense, ODENSE, CPR_A)
    found = odense.post("/patients/search", {"name": f" {CPR_A.replace('-', '')} "})
    assert found.status_code == 200 and [p["cpr_masked"] for p in found.json] == ["010190-xxxx"]
    mixed = odense.post("/patients/search", {"name": f"Karen {CPR_A}"})
    assert mixed.status_code == 422 and mixed.json["codes"] == {"name": "cpr_in_name"}
    with runtime.db.engine.connect() as connection:
        stored = " ".join(str(row) for row in connection.execute(text("SELECT * FROM audit_log")))
    assert CPR_A.replace("-", "") not in stored.replace("-", "")


def test_no_cpr_in_a_name_or_a_reason(caller):
    odense, glostrup = caller(ODENSE), caller(GLOSTRUP)
    body = {"cpr": CPR_A, "name": f"Karen {CPR_B}", "diagnosis_group": "RA", "department_id": str(ODENSE)}
    refused = odense.post("/patients", body)
    assert refused.status_code == 422 and refused.json["codes"] == {"name": "cpr_in_name"}
    new_patient(odense, ODENSE, CPR_A)
    made = glostrup.post("/transfers", {"cpr": CPR_A, "from_department_ids": [str(ODENSE)],
                                        "to_department_id": str(GLOSTRUP)})
    reason = odense.post(f"/transfers/{made.json[0]['id']}/reject", {"reason": f"Se {CPR_A.replace('-', '')}"})
    assert reason.status_code == 422 and reason.json["codes"] == {"reason": "cpr_in_reason"}
    assert odense.post(f"/transfers/{made.json[0]['id']}/reject", {"reason": "Bliver her, 2 besøg"}).status_code == 200
