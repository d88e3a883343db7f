"""The audit rows of the steps test_audit.py leaves out (issue 6): approving, cancelling and
expiring a transfer request, and changing a patient. Each row says who (the user id), what (the
action), which patient (its opaque id), when, under which request id — and never holds a CPR.

The rows are read straight from audit_log (the API does not show the correlation id)."""
import json
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from patients.adapters.tables import audit_log, audit_log_patients
from patients.service.transfers import approve, request_transfers
from patients.worker import ExpiryLoop
from services.patients.tests.support import CPR_A, CPR_B, GLOSTRUP, ODENSE, TEST_CPRS, cpr_leaks, new_patient

REQUEST_ID = "X-Request-ID"


def send(who, method: str, path: str, body: dict, request_id: str):
    """A call through the gateway carrying a request id of the test's choosing."""
    response = getattr(who.app.test_client(), method)(path, json=body,
                                                      headers={**who.headers(), REQUEST_ID: request_id})
    assert response.headers[REQUEST_ID] == request_id
    return response


def rows(runtime, action: str) -> list[dict]:
    """Every audit_log row of ``action``, oldest first, with the patients it is linked to."""
    with runtime.uow() as uow:
        found = uow.session.execute(select(audit_log).where(audit_log.c.action == action)
                                    .order_by(audit_log.c.id)).mappings().all()
        return [{**row, "patient_ids": sorted(str(p) for p in uow.session.execute(
            select(audit_log_patients.c.patient_id).where(audit_log_patients.c.audit_id == row["id"])).scalars())}
            for row in found]


def assert_no_cpr(row: dict) -> None:
    text = json.dumps(row, default=str)
    assert cpr_leaks([text]) == [], text
    assert not any(cpr.replace("-", "") in text.replace("-", "") for cpr in TEST_CPRS), text


def request_id() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def pending(caller):
    """(patient, Odense's clinician, Glostrup's clinician, Glostrup's pending request from Odense)."""
    odense, glostrup = caller(ODENSE, username="odense"), caller(GLOSTRUP, username="glostrup")
    patient = new_patient(odense, ODENSE, CPR_A)
    response = glostrup.post("/transfers", {"cpr": CPR_A, "from_department_ids": [str(ODENSE)],
                                            "to_department_id": str(GLOSTRUP)})
    assert response.status_code == 201, response.json
    return patient, odense, glostrup, response.json[0]


def test_an_approval_is_audited_with_who_what_which_patient_when_and_the_request_id(pending, runtime, caller):
    patient, odense, _, transfer = pending
    rid, before = request_id(), datetime.now(timezone.utc)
    approved = send(odense, "post", f"/transfers/{transfer['id']}/approve", {"reason": "Flyttet"}, rid)
    after = datetime.now(timezone.utc)
    assert approved.status_code == 200, approved.json

    [row] = rows(runtime, "transfer.approve")
    assert (row["actor_subject"], row["actor_username"], row["actor_kind"]) == (
        odense.principal.subject, "odense", "user")
    assert row["patient_ids"] == [patient["id"]]
    assert str(row["transfer_id"]) == transfer["id"] and row["department_id"] == ODENSE
    assert row["details"] == {"reason": "Flyttet"}
    assert before <= row["occurred_at"] <= after
    assert row["occurred_at"] == datetime.fromisoformat(approved.json["decided_at"])
    assert row["correlation_id"] == rid
    assert_no_cpr(row)
    # The registry administrator's view of the patient lists it too.
    listed = caller(registry_admin=True).get(f"/patients/{patient['id']}/audit")
    assert ("odense", "transfer.approve", transfer["id"]) in [
        (e["actor"]["username"], e["action"], e["transfer_id"]) for e in listed.json]


def test_a_cancellation_is_audited(pending, runtime):
    patient, _, glostrup, transfer = pending
    rid, before = request_id(), datetime.now(timezone.utc)
    cancelled = send(glostrup, "post", f"/transfers/{transfer['id']}/cancel", {}, rid)
    after = datetime.now(timezone.utc)
    assert cancelled.status_code == 200, cancelled.json

    [row] = rows(runtime, "transfer.cancel")
    assert (row["actor_subject"], row["actor_username"], row["actor_kind"]) == (
        glostrup.principal.subject, "glostrup", "user")
    assert row["patient_ids"] == [patient["id"]]
    assert str(row["transfer_id"]) == transfer["id"] and row["department_id"] == GLOSTRUP
    assert before <= row["occurred_at"] <= after
    assert row["occurred_at"] == datetime.fromisoformat(cancelled.json["decided_at"])
    assert row["correlation_id"] == rid
    assert_no_cpr(row)
    # A refused second cancel changes nothing, so it writes no second "cancel".
    assert send(glostrup, "post", f"/transfers/{transfer['id']}/cancel", {}, request_id()).status_code == 409
    assert len(rows(runtime, "transfer.cancel")) == 1


def test_the_workers_expiry_is_audited_as_the_system(caller, runtime):
    odense, glostrup = caller(ODENSE), caller(GLOSTRUP)
    patient = new_patient(odense, ODENSE, CPR_A)
    asked = datetime.now(timezone.utc) - timedelta(days=15)        # a request 14 days old and a day
    with runtime.uow() as uow:
        [view] = request_transfers(uow, runtime.vault, glostrup.principal, cpr=CPR_A,
                                   from_department_ids=[ODENSE], to_department_id=GLOSTRUP,
                                   lifetime=timedelta(days=14), now=asked)
    transfer = view.transfer

    # One round of the worker's expiry job, in a thread of its own as the worker runs it.
    counted, before = [], datetime.now(timezone.utc)
    job = threading.Thread(target=lambda: counted.append(ExpiryLoop(runtime, interval=60).run_once()))
    job.start()
    job.join(timeout=30)
    after = datetime.now(timezone.utc)
    assert counted == [1]

    [row] = rows(runtime, "transfer.expire")
    assert (row["actor_subject"], row["actor_username"], row["actor_kind"]) == ("system", "transfer-expiry", "system")
    assert row["patient_ids"] == [patient["id"]]
    assert row["transfer_id"] == transfer.id
    assert row["details"] == {"expires_at": transfer.expires_at.isoformat()}
    assert before <= row["occurred_at"] <= after
    assert row["correlation_id"]                      # a fresh id: no request started the job
    assert_no_cpr(row)
    status = odense.get(f"/transfers/{transfer.id}").json
    assert status["status"] == "expired"
    assert row["occurred_at"] == datetime.fromisoformat(status["decided_at"])
    # A second round finds nothing more to expire and audits nothing more.
    assert ExpiryLoop(runtime, interval=60).run_once() == 0
    assert len(rows(runtime, "transfer.expire")) == 1


def test_each_expiry_round_has_a_correlation_id_of_its_own(caller, runtime):
    """The job's thread lives as long as the worker: each round gets its own id, as a request does."""
    odense, glostrup = caller(ODENSE), caller(GLOSTRUP)
    new_patient(odense, ODENSE, CPR_A)
    new_patient(odense, ODENSE, CPR_B)
    asked = datetime.now(timezone.utc) - timedelta(days=15)
    loop = ExpiryLoop(runtime, interval=60)

    def overdue(cpr):
        with runtime.uow() as uow:
            request_transfers(uow, runtime.vault, glostrup.principal, cpr=cpr, from_department_ids=[ODENSE],
                              to_department_id=GLOSTRUP, lifetime=timedelta(days=14), now=asked)

    def two_rounds():
        overdue(CPR_A)
        loop.run_once()
        overdue(CPR_B)
        loop.run_once()

    job = threading.Thread(target=two_rounds)
    job.start()
    job.join(timeout=60)
    first, second = rows(runtime, "transfer.expire")
    assert first["correlation_id"] and second["correlation_id"]
    assert first["correlation_id"] != second["correlation_id"]


def test_an_overdue_request_someone_tries_to_approve_is_audited_as_expired_not_approved(pending, runtime):
    patient, odense, _, transfer = pending
    later = datetime.now(timezone.utc) + timedelta(days=15)
    with runtime.uow() as uow, pytest.raises(Exception, match="expired"):
        approve(uow, odense.principal, uuid.UUID(transfer["id"]), now=later)
    [row] = rows(runtime, "transfer.expire")
    assert (row["actor_subject"], row["occurred_at"], row["patient_ids"]) == ("system", later, [patient["id"]])
    assert rows(runtime, "transfer.approve") == []


def test_a_change_of_name_and_diagnosis_group_is_audited(caller, runtime):
    odense = caller(ODENSE, username="odense")
    patient = new_patient(odense, ODENSE, CPR_A, name="Karen Jensen", diagnosis_group="RA")
    rid, before = request_id(), datetime.now(timezone.utc)
    changed = send(odense, "patch", f"/patients/{patient['id']}",
                   {"name": "Karen Jensen-Holm", "diagnosis_group": "PsA"}, rid)
    after = datetime.now(timezone.utc)
    assert changed.status_code == 200, changed.json

    [row] = rows(runtime, "patient.update")
    assert (row["actor_subject"], row["actor_username"], row["actor_kind"]) == (
        odense.principal.subject, "odense", "user")
    assert row["patient_ids"] == [patient["id"]]
    assert row["details"] == {"changed": ["diagnosis_group", "name"]}
    assert before <= row["occurred_at"] <= after
    assert row["correlation_id"] == rid
    assert_no_cpr(row)

    # Changing one field names only that one; a change refused (another department) writes nothing.
    assert send(odense, "patch", f"/patients/{patient['id']}", {"diagnosis_group": "axSpA"},
                request_id()).status_code == 200
    assert send(caller(GLOSTRUP), "patch", f"/patients/{patient['id']}", {"name": "X"},
                request_id()).status_code == 404
    assert [r["details"] for r in rows(runtime, "patient.update")] == [
        {"changed": ["diagnosis_group", "name"]}, {"changed": ["diagnosis_group"]}]
