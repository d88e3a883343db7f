"""F1: the patient page (full CPR: a clinician needs it there), its left-menu link "Patientens
kiosk status" with the status history, and the app-integration page listing a department's
patients with their status on the patient platform ("Aktiv" / "Inaktiv")."""
from __future__ import annotations

from uuid import UUID

from flask import render_template, request

from ..auth import login_required
from ..profile import current_profile
from . import bp, client, messages
from .board import choose_department

PAGE_SIZE = 50


@bp.get("/patienter/<uuid:patient_id>")
@login_required
def patient_page(patient_id: UUID):
    found = client.patient(patient_id)
    return render_template("patients/patient.html", profile=current_profile(), patient=found,
                           current=[r for r in found["registrations"] if r["active"]],
                           past=[r for r in found["registrations"] if not r["active"]])


@bp.get("/patienter/<uuid:patient_id>/kiosk-status")
@login_required
def kiosk_status(patient_id: UUID):
    found = client.patient(patient_id)
    status = client.platform_status(patient_id)
    return render_template("patients/kiosk_status.html", profile=current_profile(), patient=found, status=status)


@bp.get("/patienter/<uuid:patient_id>/adgangslog")
@login_required
def access_log(patient_id: UUID):
    """Who accessed the patient, and did what, newest first: for registry administrators."""
    profile = current_profile()
    if not profile.registry_admin:
        return render_template("error.html", title="Ingen adgang",
                               message="Adgangsloggen er kun for registerets administratorer."), 403
    try:
        page = max(int(request.args.get("side", "1")), 1)
    except ValueError:
        page = 1
    entries = client.audit(patient_id, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render_template("patients/access_log.html", profile=profile, patient=client.patient(patient_id),
                           entries=entries[:PAGE_SIZE], page=page, more=len(entries) > PAGE_SIZE)


@bp.get("/app-integration")
@login_required
def app_integrations():
    return choose_department("patients.app_integration", "App-integration")


@bp.get("/afdelinger/<uuid:department_id>/app-integration")
@login_required
def app_integration(department_id: UUID):
    status = request.args.get("status", "")
    status = status if status in messages.PLATFORM_LABELS else ""
    try:
        page = max(int(request.args.get("side", "1")), 1)
    except ValueError:
        page = 1
    found = client.department_patients(department_id, platform_status=status or None, limit=PAGE_SIZE,
                                       offset=(page - 1) * PAGE_SIZE)
    pages = max((found["total"] + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template("patients/app_integration.html", profile=current_profile(), found=found,
                           label=messages.department_label(found["department"]), department_id=department_id,
                           status=status, page=page, pages=pages)
