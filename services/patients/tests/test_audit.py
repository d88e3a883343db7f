"""The audit trail: every read, search, creation, transfer step and status report — who, when,
what — append-only; a registry administrator lists who accessed a patient."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from patients.adapters.tables import audit_log, audit_log_patients
from services.patients.tests.support import CPR_A, GLOSTRUP, ODENSE, new_patient


def test_every_access_to_a_patient_is_listed_for_the_registry(caller):
    odense = caller(ODENSE, username="laege.odense")
    glostrup = caller(GLOSTRUP, username="laege.glostrup")
    platform, admin = caller(platform=True), caller(registry_admin=True, username="sekretariat")
    odense.post("/patients/lookup", {"cpr": CPR_A})           # before the patient exists: no patient to list it on
    patient = new_patient(odense, ODENSE, CPR_A)
    odense.get(f"/patients/{patient['id']}")
    odense.post("/patients/search", {"name": "karen"})
    odense.post("/patients/search", {"cpr": CPR_A})
    glostrup.post("/patients/lookup", {"cpr": CPR_A})
    [transfer] = glostrup.post("/transfers", {"cpr": CPR_A, "from_department_ids": [str(ODENSE)],
                                              "to_department_id": str(GLOSTRUP)}).json
    odense.post(f"/transfers/{transfer['id']}/reject", {"reason": "Går stadig her"})
    platform.post("/platform/status", {"cpr": CPR_A, "status": "active", "reported_at": "2026-03-01T12:00:00+00:00"})
    odense.get(f"/patients/{patient['id']}/platform-status")
    odense.get(f"/departments/{ODENSE}/patients")

    response = admin.get(f"/patients/{patient['id']}/audit")
    assert response.status_code == 200
    entries = list(reversed(response.json))                   # oldest first, to read along
    assert [(e["actor"]["username"], e["action"]) for e in entries] == [
        ("laege.odense", "patient.create"),
        ("laege.odense", "patient.read"),
        ("laege.odense", "patient.search"),
        ("laege.odense", "patient.search"),
        ("laege.glostrup", "patient.lookup"),
        ("laege.glostrup", "transfer.request"),
        ("laege.odense", "transfer.reject"),
        ("laege.odense", "transfer.list"),        # the decided request, shown to Odense with the name
        ("patient-platform", "platform_status.report"),
        ("laege.odense", "patient.platform_status.read"),
        ("laege.odense", "department.patients.list"),
    ]
    by_name, by_cpr = entries[2]["details"], entries[3]["details"]
    assert by_name == {"criterion": "name", "name": "karen", "results": 1}
    assert by_cpr["criterion"] == "cpr" and len(by_cpr["cpr_hash"]) == 64 and by_cpr["results"] == 1
    assert entries[4]["details"]["cpr_hash"] == by_cpr["cpr_hash"]   # the same CPR, recognisable
    assert entries[6]["details"] == {"reason": "Går stadig her"}
    assert entries[5]["transfer_id"] == transfer["id"]
    assert entries[8]["actor_kind"] == "client"
    assert all(datetime.fromisoformat(e["occurred_at"]) <= datetime.now(timezone.utc) for e in entries)
    assert "0101901009" not in response.get_data(as_text=True).replace("-", "")

    # Reading the audit trail is itself recorded.
    again = admin.get(f"/patients/{patient['id']}/audit", query_string={"limit": 1}).json
    assert [(e["actor"]["username"], e["action"]) for e in again] == [("sekretariat", "audit.read")]


def test_only_registry_administrators_read_the_audit_trail(caller):
    patient = new_patient(caller(ODENSE), ODENSE)
    assert caller(ODENSE).get(f"/patients/{patient['id']}/audit").status_code == 403
    assert caller(registry_admin=True).get(f"/patients/{patient['id']}/audit",
                                           query_string={"limit": 501}).status_code == 422


def test_the_audit_log_cannot_be_changed(caller, runtime):
    new_patient(caller(ODENSE), ODENSE)
    for statement in (update(audit_log).values(actor_username="someone else"), delete(audit_log),
                      delete(audit_log_patients)):
        with runtime.uow() as uow, pytest.raises(DBAPIError, match="append-only"):
            uow.session.execute(statement)
    with runtime.uow() as uow, pytest.raises(DBAPIError, match="append-only"):
        uow.session.execute(text("TRUNCATE audit_log, audit_log_patients"))
    with runtime.uow() as uow:
        assert uow.session.execute(select(func.count()).select_from(audit_log)).scalar_one() == 1
