"""Transfer requests through the API (E1, E2): request, incoming and outgoing lists, approve,
reject, cancel, expiry, in-app notices, and who may do which."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from patients.adapters import patient_repository
from patients.adapters.tables import transfer_requests
from patients.service.transfers import expire_overdue
from services.patients.tests.support import AALBORG, AARHUS, CPR_A, CPR_B, GLOSTRUP, ODENSE, new_patient


@pytest.fixture
def at_odense(caller):
    """Karen Jensen, registered at Odense; (patient, Odense's clinician, Glostrup's clinician)."""
    odense, glostrup = caller(ODENSE, username="odense"), caller(GLOSTRUP, username="glostrup")
    return new_patient(odense, ODENSE, CPR_A), odense, glostrup


def request(who, *sources, to=GLOSTRUP, cpr=CPR_A):
    return who.post("/transfers", {"cpr": cpr, "from_department_ids": [str(s) for s in sources],
                                   "to_department_id": str(to)})


def test_request_a_transfer(at_odense):
    patient, odense, glostrup = at_odense
    response = request(glostrup, ODENSE)
    assert response.status_code == 201, response.json
    [transfer] = response.json
    assert transfer["status"] == "pending"
    assert transfer["from_department"]["name"] == "Reumatologisk Afdeling C"
    assert transfer["to_department"]["id"] == str(GLOSTRUP)
    assert transfer["requested_by"]["username"] == "glostrup"
    # The requester typed the CPR: it sees it masked, but no name until the patient is theirs.
    assert (transfer["cpr_masked"], transfer["patient_name"], transfer["patient_id"]) == ("010190-xxxx", None, None)
    lifetime = datetime.fromisoformat(transfer["expires_at"]) - datetime.fromisoformat(transfer["requested_at"])
    assert lifetime == timedelta(days=14)

    [incoming] = odense.get("/transfers/incoming").json
    assert incoming["id"] == transfer["id"]
    assert (incoming["patient_name"], incoming["patient_id"]) == ("Karen Jensen", patient["id"])
    [outgoing] = glostrup.get("/transfers/outgoing").json
    assert outgoing["id"] == transfer["id"] and outgoing["patient_name"] is None
    assert glostrup.get("/transfers/incoming").json == []
    assert odense.get("/transfers/outgoing").json == []
    assert glostrup.get(f"/patients/{patient['id']}").status_code == 404   # not theirs yet

    [notice] = odense.get("/notices").json
    assert notice["kind"] == "transfer_requested" and notice["transfer"]["id"] == transfer["id"]
    assert notice["department"]["id"] == str(ODENSE) and notice["transfer"]["cpr_masked"] == "010190-xxxx"
    assert "Karen" not in str(notice)
    assert glostrup.get("/notices").json == []


def test_approval_moves_the_registration_and_keeps_the_history(at_odense):
    patient, odense, glostrup = at_odense
    [transfer] = request(glostrup, ODENSE).json
    approved = odense.post(f"/transfers/{transfer['id']}/approve", {"reason": "Flyttet til Sjælland"})
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "approved"
    assert approved.json["decided_by"]["username"] == "odense"
    assert approved.json["reason"] == "Flyttet til Sjælland"

    assert odense.get(f"/patients/{patient['id']}").status_code == 404      # the source lost access
    page = glostrup.get(f"/patients/{patient['id']}")                        # the requester gained it
    assert page.status_code == 200
    source, target = page.json["registrations"]
    assert (source["department"]["id"], source["active"], source["ended_reason"]) == (str(ODENSE), False, "transferred")
    assert source["transfer_id"] == transfer["id"]
    assert (target["department"]["id"], target["active"], target["transfer_id"]) == (str(GLOSTRUP), True, transfer["id"])
    assert glostrup.post("/patients/lookup", {"cpr": CPR_A}).json["patient_id"] == patient["id"]

    [notice] = glostrup.get("/notices").json
    assert notice["kind"] == "transfer_approved"
    assert odense.post(f"/transfers/{transfer['id']}/approve", {}).status_code in (404, 409)
    assert odense.post(f"/transfers/{transfer['id']}/reject", {"reason": "x"}).status_code == 409


def test_rejection_needs_a_reason_and_leaves_the_patient(at_odense):
    patient, odense, glostrup = at_odense
    [transfer] = request(glostrup, ODENSE).json
    missing = odense.post(f"/transfers/{transfer['id']}/reject", {"reason": "  "})
    assert missing.status_code == 422 and missing.json["errors"] == {"reason": ["a reason is required"]}
    rejected = odense.post(f"/transfers/{transfer['id']}/reject", {"reason": "Patienten går stadig her"})
    assert rejected.status_code == 200
    assert (rejected.json["status"], rejected.json["reason"]) == ("rejected", "Patienten går stadig her")
    assert odense.get(f"/patients/{patient['id']}").status_code == 200
    assert glostrup.get(f"/patients/{patient['id']}").status_code == 404
    [notice] = glostrup.get("/notices").json
    assert (notice["kind"], notice["transfer"]["reason"]) == ("transfer_rejected", "Patienten går stadig her")
    # Once closed, the next request may be made.
    assert request(glostrup, ODENSE).status_code == 201


def test_who_decides(at_odense, caller):
    _, odense, glostrup = at_odense
    [transfer] = request(glostrup, ODENSE).json
    path = f"/transfers/{transfer['id']}"
    assert glostrup.post(f"{path}/approve", {}).status_code == 403            # not the requester
    assert caller(AARHUS).post(f"{path}/approve", {}).status_code == 404      # nor a third department
    assert caller(AARHUS).get(path).status_code == 404
    assert caller(platform=True).post(f"{path}/approve", {}).status_code == 403
    assert odense.post(f"{path}/cancel", {}).status_code == 403               # the source cannot cancel
    admin = caller(registry_admin=True, username="sekretariat")
    assert admin.get(path).json["patient_name"] == "Karen Jensen"
    approved = admin.post(f"{path}/approve", {})
    assert approved.status_code == 200 and approved.json["decided_by"]["username"] == "sekretariat"


def test_the_requester_cancels(at_odense):
    _, odense, glostrup = at_odense
    [transfer] = request(glostrup, ODENSE).json
    cancelled = glostrup.post(f"/transfers/{transfer['id']}/cancel", {})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert glostrup.post(f"/transfers/{transfer['id']}/cancel", {}).status_code == 409
    assert odense.post(f"/transfers/{transfer['id']}/approve", {}).status_code == 409
    kinds = sorted(n["kind"] for n in odense.get("/notices").json)
    assert kinds == ["transfer_cancelled", "transfer_requested"]
    assert [t["status"] for t in odense.get("/transfers/incoming", query_string={"status": "pending"}).json] == []
    assert [t["status"] for t in odense.get("/transfers/incoming").json] == ["cancelled"]


def test_requests_that_cannot_be_made(at_odense, caller):
    _, odense, glostrup = at_odense
    assert request(glostrup, ODENSE, to=AARHUS).status_code == 403               # not the caller's department
    own = request(odense, ODENSE, to=ODENSE)
    assert own.status_code == 409 and own.json["detail"] == "The patient is already registered at your department."
    not_there = request(glostrup, AARHUS)
    assert not_there.status_code == 422 and "from_department_ids" in not_there.json["errors"]
    unknown = request(glostrup, ODENSE, cpr=CPR_B)
    assert unknown.status_code == 422 and unknown.json["errors"] == {"cpr": ["no patient with this CPR number is registered"]}
    assert request(glostrup).status_code == 422                                  # no source at all
    assert request(glostrup, ODENSE, cpr="999999-9999").status_code == 422
    assert request(glostrup, ODENSE).status_code == 201
    again = request(glostrup, ODENSE)
    assert again.status_code == 409
    assert again.json["detail"] == "A transfer request for this patient from Reumatologisk Afdeling C is already pending."


def test_request_from_several_departments_at_once(at_odense, runtime, caller):
    patient, odense, glostrup = at_odense
    # Patients registered at more than one department come from the registry's existing data.
    with runtime.uow() as uow:
        patient_repository.register(uow.session, patient_id=patient["id"], department_id=AARHUS,
                                    now=datetime.now(timezone.utc), by="migration")
        uow.commit()
    lookup = glostrup.post("/patients/lookup", {"cpr": CPR_A}).json
    assert sorted(d["id"] for d in lookup["other_departments"]) == sorted([str(ODENSE), str(AARHUS)])
    created = request(glostrup, ODENSE, AARHUS)
    assert created.status_code == 201
    from_odense, from_aarhus = created.json
    aarhus = caller(AARHUS)
    assert odense.post(f"/transfers/{from_odense['id']}/approve", {}).status_code == 200
    assert aarhus.post(f"/transfers/{from_aarhus['id']}/approve", {}).status_code == 200
    registrations = glostrup.get(f"/patients/{patient['id']}").json["registrations"]
    assert [(r["department"]["id"], r["active"]) for r in registrations] == [
        (str(ODENSE), False), (str(AARHUS), False), (str(GLOSTRUP), True)]


def test_a_registry_administrator_sees_every_incoming_request(at_odense, caller):
    _, odense, glostrup = at_odense
    request(glostrup, ODENSE)
    new_patient(caller(AARHUS), AARHUS, CPR_B)
    request(caller(AALBORG), AARHUS, to=AALBORG, cpr=CPR_B)
    admin = caller(registry_admin=True)
    assert len(admin.get("/transfers/incoming").json) == 2
    assert len(admin.get("/transfers/incoming", query_string={"department_id": str(ODENSE)}).json) == 1
    assert glostrup.get("/transfers/incoming", query_string={"department_id": str(ODENSE)}).status_code == 403
    assert glostrup.get("/transfers/outgoing", query_string={"department_id": str(ODENSE)}).status_code == 403
    assert glostrup.get("/transfers/incoming", query_string={"status": "nonsense"}).status_code == 422


def test_pending_requests_expire(at_odense, runtime):
    patient, odense, glostrup = at_odense
    [transfer] = request(glostrup, ODENSE).json
    with runtime.uow() as uow:
        assert expire_overdue(uow, now=datetime.now(timezone.utc) + timedelta(days=13)) == 0
    with runtime.uow() as uow:
        assert expire_overdue(uow, now=datetime.now(timezone.utc) + timedelta(days=14, minutes=1)) == 1
    assert odense.get(f"/transfers/{transfer['id']}").json["status"] == "expired"
    assert odense.post(f"/transfers/{transfer['id']}/approve", {}).status_code == 409
    assert [n["kind"] for n in odense.get("/notices").json] == ["transfer_expired", "transfer_requested"]
    assert [n["kind"] for n in glostrup.get("/notices").json] == ["transfer_expired"]
    assert odense.get(f"/patients/{patient['id']}").status_code == 200


def test_an_overdue_request_cannot_be_approved_before_the_job_ran(at_odense, runtime):
    from patients.service.transfers import approve

    _, odense, glostrup = at_odense
    [transfer] = request(glostrup, ODENSE).json
    later = datetime.now(timezone.utc) + timedelta(days=15)
    with runtime.uow() as uow, pytest.raises(Exception, match="expired"):
        approve(uow, odense.principal, transfer["id"], now=later)
    assert odense.get(f"/transfers/{transfer['id']}").json["status"] == "expired"


def test_notices_are_dismissed_for_the_whole_department(at_odense, caller):
    _, odense, glostrup = at_odense
    request(glostrup, ODENSE)
    [notice] = odense.get("/notices").json
    colleague = caller(ODENSE)
    assert glostrup.post(f"/notices/{notice['id']}/dismiss").status_code == 404
    assert colleague.post(f"/notices/{notice['id']}/dismiss").status_code == 204
    assert odense.get("/notices").json == []
    [seen] = odense.get("/notices", query_string={"include_dismissed": "true"}).json
    assert seen["dismissed_at"] is not None


def test_one_pending_request_per_patient_and_source_in_the_database(at_odense, runtime):
    _, _, glostrup = at_odense
    request(glostrup, ODENSE)
    with runtime.uow() as uow:
        count = uow.session.execute(select(func.count()).select_from(transfer_requests)
                                    .where(transfer_requests.c.status == "pending")).scalar_one()
    assert count == 1
