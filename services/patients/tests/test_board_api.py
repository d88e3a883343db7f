"""A department's board ("Patienttavle Graf") and its patient list with platform status (F1)."""
import uuid
from datetime import datetime, timezone

from services.patients.tests.support import CPR_A, CPR_B, CPR_C, CPR_MOD11_EXCEPTION, GLOSTRUP, ODENSE, new_patient

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def fill_odense(caller):
    odense, platform = caller(ODENSE), caller(platform=True)
    new_patient(odense, ODENSE, CPR_A, name="Karen Jensen", diagnosis_group="RA")
    new_patient(odense, ODENSE, CPR_B, name="Jens Hansen", diagnosis_group="RA")
    new_patient(odense, ODENSE, CPR_C, name="Ole Olsen", diagnosis_group="PsA")
    new_patient(caller(GLOSTRUP), GLOSTRUP, CPR_MOD11_EXCEPTION, name="Anna Berg", diagnosis_group="axSpA")
    for cpr, status in ((CPR_A, "active"), (CPR_C, "inactive")):
        platform.post("/platform/status", {"cpr": cpr, "status": status, "reported_at": T0.isoformat()})
    return odense


def test_board_counts_by_diagnosis_and_platform_status(caller):
    odense = fill_odense(caller)
    board = odense.get(f"/departments/{ODENSE}/board")
    assert board.status_code == 200
    assert board.json == {
        "department": {"id": str(ODENSE), "name": "Reumatologisk Afdeling C",
                       "hospital_name": "Odense Universitetshospital"},
        "total": 3,
        "by_diagnosis": {"RA": 2, "PsA": 1, "axSpA": 0, "other": 0},
        "by_platform_status": {"active": 1, "inactive": 1, "unknown": 1},
        "cells": [{"diagnosis_group": "RA", "platform_status": "active", "count": 1},
                  {"diagnosis_group": "RA", "platform_status": "unknown", "count": 1},
                  {"diagnosis_group": "PsA", "platform_status": "inactive", "count": 1}]}
    assert "Karen" not in board.get_data(as_text=True)


def test_board_of_an_empty_department(caller):
    board = caller(GLOSTRUP).get(f"/departments/{GLOSTRUP}/board").json
    assert board["total"] == 0 and board["cells"] == []
    assert board["by_diagnosis"] == {"RA": 0, "PsA": 0, "axSpA": 0, "other": 0}


def test_board_only_for_your_departments(caller):
    fill_odense(caller)
    assert caller(GLOSTRUP).get(f"/departments/{ODENSE}/board").status_code == 403
    assert caller(platform=True).get(f"/departments/{ODENSE}/board").status_code == 403
    assert caller(registry_admin=True).get(f"/departments/{ODENSE}/board").json["total"] == 3
    assert caller(registry_admin=True).get(f"/departments/{uuid.uuid4()}/board").status_code == 404


def test_department_patients_with_platform_status(caller):
    odense = fill_odense(caller)
    listed = odense.get(f"/departments/{ODENSE}/patients")
    assert listed.status_code == 200
    assert listed.json["total"] == 3
    assert [(p["name"], p["cpr_masked"], (p["platform_status"] or {}).get("label")) for p in listed.json["items"]] == [
        ("Jens Hansen", "150875-xxxx", None), ("Karen Jensen", "010190-xxxx", "Aktiv"),
        ("Ole Olsen", "290200-xxxx", "Inaktiv")]
    text = listed.get_data(as_text=True)
    assert "cpr\"" not in text and "1009" not in text          # masked only in lists
    active = odense.get(f"/departments/{ODENSE}/patients", query_string={"platform_status": "active"}).json
    assert (active["total"], [p["name"] for p in active["items"]]) == (1, ["Karen Jensen"])
    unknown = odense.get(f"/departments/{ODENSE}/patients", query_string={"platform_status": "unknown"}).json
    assert [p["name"] for p in unknown["items"]] == ["Jens Hansen"]
    page = odense.get(f"/departments/{ODENSE}/patients", query_string={"limit": 1, "offset": 1}).json
    assert (page["total"], [p["name"] for p in page["items"]]) == (3, ["Karen Jensen"])
    assert odense.get(f"/departments/{ODENSE}/patients", query_string={"limit": 0}).status_code == 422
    assert odense.get(f"/departments/{ODENSE}/patients", query_string={"platform_status": "x"}).status_code == 422
    assert caller(GLOSTRUP).get(f"/departments/{ODENSE}/patients").status_code == 403


def test_a_transferred_patient_leaves_the_source_board(caller):
    odense = fill_odense(caller)
    glostrup = caller(GLOSTRUP)
    [transfer] = glostrup.post("/transfers", {"cpr": CPR_A, "from_department_ids": [str(ODENSE)],
                                              "to_department_id": str(GLOSTRUP)}).json
    odense.post(f"/transfers/{transfer['id']}/approve", {})
    assert odense.get(f"/departments/{ODENSE}/board").json["total"] == 2
    board = glostrup.get(f"/departments/{GLOSTRUP}/board").json
    assert (board["total"], board["by_platform_status"]["active"]) == (2, 1)
