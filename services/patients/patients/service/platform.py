"""Use cases on the patient platform's status (F1): the platform reports, users read.

Reports are idempotent and ordered by the platform's own timestamp: the patient's row is locked
while a report is applied, so two reports for one patient are judged one after the other, and a
report older than the status held is kept in the history without replacing it.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicekit.errors import InvalidInput, NotFound
from servicekit.principal import Principal
from servicekit.uow import UnitOfWork

from ..adapters import patient_repository as repo
from ..adapters.cpr_vault import CprVault
from ..domain import access, audit
from ..domain.patients import PlatformStatus
from ..domain.platform import APPLIED, DUPLICATE, STATUSES, as_utc, classify, is_change
from .audit import now_utc, record
from .patients import read_cpr

PLATFORM_STATUS_CHANGED = "patients.platform_status.changed"

# The platform's clock may run a little ahead of ours; a report further in the future would pin
# the status until that time, so it is refused.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class ReportOutcome:
    outcome: str                      # applied | stale | duplicate
    current: PlatformStatus | None    # the status held after the report


def report_status(uow: UnitOfWork, vault: CprVault, principal: Principal, *, cpr: str, status: str,
                  reported_at: datetime, now: datetime | None = None) -> ReportOutcome:
    """The patient platform says a patient is active or inactive there, as of ``reported_at``."""
    access.require_platform(principal)
    now = now or now_utc()
    if status not in STATUSES:
        raise InvalidInput("Some fields are missing or invalid.", errors={"status": [f"one of {', '.join(STATUSES)}"]})
    if reported_at.tzinfo is None:
        raise InvalidInput("Some fields are missing or invalid.", errors={"reported_at": ["a time zone is required"]})
    reported_at = as_utc(reported_at)
    if reported_at > now + CLOCK_SKEW:
        raise InvalidInput("Some fields are missing or invalid.", errors={"reported_at": ["lies in the future"]})
    number = read_cpr(cpr, now=now)
    patient_id = repo.patient_id_by_hash(uow.session, vault.digest(number))
    if patient_id is None:
        raise NotFound("No patient with this CPR number is registered.")
    patient = repo.get_patient(uow.session, patient_id, lock=True)
    report = PlatformStatus(status, reported_at)
    outcome = classify(report, patient.platform_status, repo.status_report_at(uow.session, patient_id, reported_at))
    if outcome == DUPLICATE:
        return ReportOutcome(outcome, patient.platform_status)
    repo.insert_status_report(uow.session, patient_id=patient_id, report=report, applied=outcome == APPLIED,
                              now=now, by=principal.subject)
    current = patient.platform_status
    if outcome == APPLIED:
        repo.update_patient(uow.session, patient_id, platform_status=status, platform_status_at=reported_at)
        if is_change(report, current):
            uow.emit(PLATFORM_STATUS_CHANGED, {
                "patient_id": str(patient_id), "status": status,
                "previous_status": current.status if current else None, "reported_at": reported_at.isoformat()})
        current = report
    record(uow, principal, audit.PLATFORM_STATUS_REPORT, now=now, patient_ids=[patient_id],
           details={"status": status, "reported_at": reported_at.isoformat(), "outcome": outcome})
    uow.commit()
    return ReportOutcome(outcome, current)


@dataclass(frozen=True)
class StatusHistory:
    patient_id: uuid.UUID
    current: PlatformStatus | None
    history: list[tuple[PlatformStatus, datetime]]   # (report, received at), newest report first


def status_of(uow: UnitOfWork, principal: Principal, patient_id: uuid.UUID, *,
              now: datetime | None = None) -> StatusHistory:
    """"Patientens kiosk status": the current status and every report."""
    access.require_user(principal)
    now = now or now_utc()
    patient = repo.get_patient(uow.session, patient_id)
    if patient is None:
        raise NotFound(access.NOT_YOURS)
    access.require_read(principal, repo.active_departments(uow.session, patient_id))
    history = repo.status_history(uow.session, patient_id)
    record(uow, principal, audit.PLATFORM_STATUS_READ, now=now, patient_ids=[patient_id])
    uow.commit()
    return StatusHistory(patient_id, patient.platform_status, history)
