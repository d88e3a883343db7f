"""Patients: look up a CPR (E1), create, read, change, search (G), platform status (F1), audit.

CPR numbers travel in request bodies only — lookups and searches are POSTs — so no URL, proxy
log or browser history ever holds one. Patient ids in paths are random UUIDs.
"""
import uuid

from flask_smorest import Blueprint

from servicekit.web import current_principal

from ..service import audit as audit_service
from ..service import patients as service
from ..service import platform as platform_service
from . import schemas, views
from .context import runtime

blp = Blueprint("patients", __name__, url_prefix="/patients", description="Patients by CPR, search, audit")


@blp.route("/lookup", methods=["POST"])
@blp.arguments(schemas.CprBody)
@blp.response(200, schemas.LookupSchema)
def lookup(body):
    """Where a typed CPR is registered: at the caller's departments (with the patient's id), and
    elsewhere by department name only. Audited."""
    rt = runtime()
    with rt.uow() as uow:
        found = service.lookup(uow, rt.vault, current_principal(), cpr=body["cpr"])
    return {"cpr_masked": found.cpr_masked, "modulus11_valid": found.modulus11_valid, "known": found.known,
            "patient_id": found.patient_id, "your_departments": [views.department(d) for d in found.your_departments],
            "other_departments": [views.department(d) for d in found.other_departments]}


@blp.route("", methods=["POST"])
@blp.arguments(schemas.NewPatientBody)
@blp.response(201, schemas.PatientSchema)
@blp.alt_response(409, description="the CPR is registered already (errors.registered_at names where)")
def create(body):
    """Create a patient at one of the caller's departments."""
    rt = runtime()
    with rt.uow() as uow:
        return views.patient(service.create_patient(uow, rt.vault, current_principal(), **body))


@blp.route("/search", methods=["POST"])
@blp.arguments(schemas.SearchBody)
@blp.response(200, schemas.PatientSummarySchema(many=True))
def search(body):
    """Patients of the caller's departments by CPR (exact) or name (part of it, at most 50). Audited."""
    rt = runtime()
    with rt.uow() as uow:
        return [views.summary(s) for s in service.search(uow, rt.vault, current_principal(), **body)]


@blp.route("/<uuid:patient_id>")
@blp.response(200, schemas.PatientSchema)
def read(patient_id: uuid.UUID):
    """The patient page: full CPR, registrations and their history, platform status. Audited."""
    rt = runtime()
    with rt.uow() as uow:
        return views.patient(service.read_patient(uow, rt.vault, current_principal(), patient_id))


@blp.route("/<uuid:patient_id>", methods=["PATCH"])
@blp.arguments(schemas.PatientChangeBody)
@blp.response(200, schemas.PatientSchema)
def change(body, patient_id: uuid.UUID):
    """Correct the name or diagnosis group (departments the patient is registered at). Audited."""
    rt = runtime()
    with rt.uow() as uow:
        return views.patient(service.change_patient(uow, rt.vault, current_principal(), patient_id, **body))


@blp.route("/<uuid:patient_id>/platform-status")
@blp.response(200, schemas.StatusHistorySchema)
def platform_status(patient_id: uuid.UUID):
    """"Patientens kiosk status": the current status and every report, newest first. Audited."""
    with runtime().uow() as uow:
        found = platform_service.status_of(uow, current_principal(), patient_id)
    return {"patient_id": found.patient_id, "current": found.current,
            "history": [{"status": r.status, "reported_at": r.reported_at, "received_at": received}
                        for r, received in found.history]}


@blp.route("/<uuid:patient_id>/audit")
@blp.arguments(schemas.PageQuery, location="query")
@blp.response(200, schemas.AuditEntrySchema(many=True))
def audit(page, patient_id: uuid.UUID):
    """Who accessed the patient, and did what, newest first (registry administrators)."""
    with runtime().uow() as uow:
        entries = audit_service.who_accessed(uow, current_principal(), patient_id, **page)
    return [{"occurred_at": e.occurred_at, "actor": {"subject": e.actor_subject, "username": e.actor_username},
             "actor_kind": e.actor_kind, "action": e.action, "department_id": e.department_id,
             "transfer_id": e.transfer_id, "details": e.details} for e in entries]
