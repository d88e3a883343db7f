"""Races against the real PostgreSQL, with threads released together: the same CPR created by 20
departments at once is one patient; 20 departments asking for the same patient from the same
source at once leave one pending request."""
from sqlalchemy import func, select

from patients.adapters.tables import patients, registrations, transfer_requests
from patients.domain.organisation import parse_organisation
from patients.service.organisation import bundled_organisation
from servicekit.testing import all_at_once
from services.patients.tests.support import CPR_A, ODENSE, new_patient

ALL_DEPARTMENTS = [d.id for d in parse_organisation(bundled_organisation())]
OTHERS = [d for d in ALL_DEPARTMENTS if d != ODENSE]


def count(runtime, query):
    with runtime.uow() as uow:
        return uow.session.execute(query).scalar_one()


def test_twenty_departments_create_the_same_cpr_at_once(caller, runtime):
    assert len(OTHERS) >= 20
    callers = [(caller(department), department) for department in OTHERS[:20]]
    responses = all_at_once([
        (lambda who=who, department=department: who.post("/patients", {
            "cpr": CPR_A, "name": "Karen Jensen", "diagnosis_group": "RA", "department_id": str(department)}))
        for who, department in callers])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, [r.json for r in responses if r.status_code not in (201, 409)]
    assert count(runtime, select(func.count()).select_from(patients)) == 1
    assert count(runtime, select(func.count()).select_from(registrations)) == 1
    [winner] = [r for r in responses if r.status_code == 201]
    winner_department = winner.json["registrations"][0]["department"]["name"]
    for loser in (r for r in responses if r.status_code == 409):
        assert loser.mimetype == "application/problem+json"
        assert winner_department in " ".join(loser.json["errors"]["registered_at"])


def test_the_same_cpr_twice_at_once_from_one_department(caller, runtime):
    responses = all_at_once([
        (lambda: caller(ODENSE).post("/patients", {"cpr": CPR_A, "name": "Karen Jensen", "diagnosis_group": "RA",
                                                   "department_id": str(ODENSE)}))
        for _ in range(20)])
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    assert count(runtime, select(func.count()).select_from(patients)) == 1


def test_twenty_transfer_requests_for_the_same_patient_and_source_at_once(caller, runtime):
    new_patient(caller(ODENSE), ODENSE, CPR_A)
    requesters = [(caller(department), department) for department in OTHERS[:20]]
    responses = all_at_once([
        (lambda who=who, department=department: who.post("/transfers", {
            "cpr": CPR_A, "from_department_ids": [str(ODENSE)], "to_department_id": str(department)}))
        for who, department in requesters])
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19, [r.json for r in responses]
    pending = select(func.count()).select_from(transfer_requests).where(transfer_requests.c.status == "pending")
    assert count(runtime, pending) == 1
    assert count(runtime, select(func.count()).select_from(transfer_requests)) == 1
