"""What the patients service puts on the bus: every event matches its contract, and none holds a
CPR number or a patient's name."""
from datetime import datetime, timezone

from sqlalchemy import select

from patients.adapters.tables import messaging
from servicekit import contracts
from servicekit.events import parse_event
from services.patients.tests.support import CPR_A, GLOSTRUP, ODENSE, new_patient


def outbox(runtime):
    with runtime.uow() as uow:
        return list(uow.session.execute(select(messaging.outbox.c.event_type, messaging.outbox.c.body)
                                        .order_by(messaging.outbox.c.position)))


def test_transfer_and_status_events_match_their_contracts(caller, runtime):
    odense, glostrup = caller(ODENSE, username="odense"), caller(GLOSTRUP, username="glostrup")
    patient = new_patient(odense, ODENSE, CPR_A, name="Karen Jensen")
    [first] = glostrup.post("/transfers", {"cpr": CPR_A, "from_department_ids": [str(ODENSE)],
                                           "to_department_id": str(GLOSTRUP)}).json
    odense.post(f"/transfers/{first['id']}/reject", {"reason": "Går stadig her"})
    [second] = glostrup.post("/transfers", {"cpr": CPR_A, "from_department_ids": [str(ODENSE)],
                                            "to_department_id": str(GLOSTRUP)}).json
    odense.post(f"/transfers/{second['id']}/approve", {})
    caller(platform=True).post("/platform/status", {"cpr": CPR_A, "status": "active",
                                                    "reported_at": datetime.now(timezone.utc).isoformat()})

    rows = [(t, body) for t, body in outbox(runtime) if t != "patients.department.upserted"]
    assert [t for t, _ in rows] == [
        "patients.transfer.requested", "patients.transfer.decided",
        "patients.transfer.requested", "patients.transfer.decided", "patients.transfer.completed",
        "patients.platform_status.changed"]
    events = [parse_event(body) for _, body in rows]      # parse_event checks the contract
    for event in events:
        assert (event.type, event.version) in contracts.REGISTRY and event.producer == "patients"
    requested, rejected, _, approved, completed, status = (e.data for e in events)
    assert requested["from_department"] == {"id": str(ODENSE), "name": "Reumatologisk Afdeling C",
                                            "hospital_name": "Odense Universitetshospital"}
    assert requested["requested_by"]["name"] == "glostrup"
    assert requested["requested_by"]["user_id"] == glostrup.principal.subject
    assert (rejected["decision"], rejected["reason"]) == ("rejected", "Går stadig her")
    assert (approved["decision"], approved["transfer_id"]) == ("approved", second["id"])
    assert completed["patient_id"] == patient["id"] and completed["to_department"]["id"] == str(GLOSTRUP)
    assert (status["patient_id"], status["status"], status["previous_status"]) == (patient["id"], "active", None)
    for _, body in rows:
        assert "Karen" not in body and "Jensen" not in body
        assert CPR_A not in body and CPR_A.replace("-", "") not in body and "010190" not in body
