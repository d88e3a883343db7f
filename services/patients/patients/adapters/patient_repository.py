"""Reads and writes of patients, their registrations and platform status."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import DateTime, String, Uuid, and_, func, insert, literal, select, update
from sqlalchemy.orm import Session

from ..domain.patients import DepartmentRef, PlatformStatus, Registration
from .timestamps import utc
from .tables import departments, hospitals, patients, platform_status_reports, registrations


@dataclass(frozen=True)
class PatientRow:
    """A patient as stored: the CPR still sealed."""

    id: uuid.UUID
    cpr_encrypted: bytes
    name: str
    diagnosis_group: str
    created_at: datetime
    platform_status: PlatformStatus | None


_PATIENT_COLUMNS = (patients.c.id, patients.c.cpr_encrypted, patients.c.name, patients.c.diagnosis_group,
                    patients.c.created_at, patients.c.platform_status, patients.c.platform_status_at)


def _patient(row) -> PatientRow:
    status = PlatformStatus(row.platform_status, utc(row.platform_status_at)) if row.platform_status else None
    return PatientRow(id=row.id, cpr_encrypted=bytes(row.cpr_encrypted), name=row.name,
                      diagnosis_group=row.diagnosis_group, created_at=utc(row.created_at), platform_status=status)


# --- departments (reference data, read here by id) -----------------------------------------------

_DEPARTMENT_REF = (select(departments.c.id, departments.c.name, departments.c.active,
                          hospitals.c.name.label("hospital_name"))
                   .join(hospitals, departments.c.hospital_id == hospitals.c.id))


def _department_ref(row) -> DepartmentRef:
    return DepartmentRef(id=row.id, name=row.name, hospital_name=row.hospital_name, active=row.active)


def department_refs(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, DepartmentRef]:
    ids = list(set(ids))
    if not ids:
        return {}
    return {row.id: _department_ref(row) for row in session.execute(_DEPARTMENT_REF.where(departments.c.id.in_(ids)))}


def department_ref(session: Session, department_id: uuid.UUID) -> DepartmentRef | None:
    return department_refs(session, [department_id]).get(department_id)


# --- patients ------------------------------------------------------------------------------------

def insert_patient(session: Session, *, patient_id: uuid.UUID, cpr_hash: bytes, cpr_encrypted: bytes, name: str,
                   diagnosis_group: str, now: datetime, by: str) -> None:
    session.execute(insert(patients).values(
        id=patient_id, cpr_hash=cpr_hash, cpr_encrypted=cpr_encrypted, name=name,
        diagnosis_group=diagnosis_group, created_at=now, created_by=by))


def patient_id_by_hash(session: Session, cpr_hash: bytes) -> uuid.UUID | None:
    return session.execute(select(patients.c.id).where(patients.c.cpr_hash == cpr_hash)).scalar_one_or_none()


def where_registered(session: Session, cpr_hash: bytes) -> tuple[uuid.UUID | None, list[DepartmentRef]]:
    """The patient with this CPR hash and the departments it is registered at now, in one query
    (the look-up as a CPR is typed is the hottest path)."""
    rows = session.execute(
        select(patients.c.id.label("patient_id"), departments.c.id, departments.c.name, departments.c.active,
               hospitals.c.name.label("hospital_name"))
        .select_from(patients)
        .outerjoin(registrations, and_(registrations.c.patient_id == patients.c.id, registrations.c.ended_at.is_(None)))
        .outerjoin(departments, registrations.c.department_id == departments.c.id)
        .outerjoin(hospitals, departments.c.hospital_id == hospitals.c.id)
        .where(patients.c.cpr_hash == cpr_hash)).all()
    if not rows:
        return None, []
    return rows[0].patient_id, [_department_ref(row) for row in rows if row.id is not None]


def get_patient(session: Session, patient_id: uuid.UUID, *, lock: bool = False) -> PatientRow | None:
    """The patient; ``lock``: hold its row until commit, so changes to it happen one at a time."""
    query = select(*_PATIENT_COLUMNS).where(patients.c.id == patient_id)
    row = session.execute(query.with_for_update() if lock else query).first()
    return _patient(row) if row else None


# Patient fields copied onto the current registrations (see tables.registrations).
_COPIED = {"name": "patient_name", "diagnosis_group": "diagnosis_group", "platform_status": "platform_status"}


def update_patient(session: Session, patient_id: uuid.UUID, **values) -> None:
    session.execute(update(patients).where(patients.c.id == patient_id).values(**values))
    copies = {_COPIED[key]: value for key, value in values.items() if key in _COPIED}
    if copies:
        session.execute(update(registrations).where(
            registrations.c.patient_id == patient_id, registrations.c.ended_at.is_(None)).values(**copies))


def patients_by_ids(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, PatientRow]:
    ids = list(set(ids))
    if not ids:
        return {}
    return {row.id: _patient(row) for row in session.execute(select(*_PATIENT_COLUMNS).where(patients.c.id.in_(ids)))}


# --- registrations -------------------------------------------------------------------------------

def active_departments(session: Session, patient_id: uuid.UUID) -> set[uuid.UUID]:
    return set(session.execute(select(registrations.c.department_id).where(
        registrations.c.patient_id == patient_id, registrations.c.ended_at.is_(None))).scalars())


def active_departments_of(session: Session, patient_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
    result: dict[uuid.UUID, set[uuid.UUID]] = {}
    ids = list(set(patient_ids))
    if ids:
        rows = session.execute(select(registrations.c.patient_id, registrations.c.department_id).where(
            registrations.c.patient_id.in_(ids), registrations.c.ended_at.is_(None)))
        for patient_id, department_id in rows:
            result.setdefault(patient_id, set()).add(department_id)
    return result


def registration_history(session: Session, patient_id: uuid.UUID) -> list[Registration]:
    rows = session.execute(
        select(registrations, departments.c.name.label("d_name"), departments.c.active.label("d_active"),
               hospitals.c.name.label("h_name"))
        .join(departments, registrations.c.department_id == departments.c.id)
        .join(hospitals, departments.c.hospital_id == hospitals.c.id)
        .where(registrations.c.patient_id == patient_id)
        .order_by(registrations.c.registered_at, registrations.c.id)).all()
    return [Registration(department=DepartmentRef(id=r.department_id, name=r.d_name, hospital_name=r.h_name,
                                                  active=r.d_active),
                         registered_at=utc(r.registered_at), ended_at=utc(r.ended_at), ended_reason=r.ended_reason,
                         transfer_id=r.transfer_id) for r in rows]


def register(session: Session, *, patient_id: uuid.UUID, department_id: uuid.UUID, now: datetime, by: str,
             transfer_id: uuid.UUID | None = None) -> None:
    """A current registration, with the copy of the patient's fields taken in the same statement."""
    copied = select(literal(uuid.uuid4(), Uuid), patients.c.id, literal(department_id, Uuid),
                    literal(now, DateTime(timezone=True)), literal(by, String), literal(transfer_id, Uuid),
                    patients.c.name, patients.c.diagnosis_group, patients.c.platform_status
                    ).where(patients.c.id == patient_id)
    session.execute(insert(registrations).from_select(
        ["id", "patient_id", "department_id", "registered_at", "registered_by", "transfer_id", "patient_name",
         "diagnosis_group", "platform_status"], copied))


def end_registration(session: Session, *, patient_id: uuid.UUID, department_id: uuid.UUID, now: datetime, by: str,
                     reason: str, transfer_id: uuid.UUID | None = None) -> int:
    return session.execute(update(registrations).where(
        registrations.c.patient_id == patient_id, registrations.c.department_id == department_id,
        registrations.c.ended_at.is_(None)).values(
        ended_at=now, ended_by=by, ended_reason=reason, transfer_id=transfer_id)).rowcount


# --- search and lists ----------------------------------------------------------------------------

def _current_at(department_ids: Iterable[uuid.UUID]):
    """Patients with a current registration at one of these departments."""
    return (select(registrations.c.patient_id)
            .where(registrations.c.department_id.in_(list(department_ids)), registrations.c.ended_at.is_(None)))


def find_by_hash_at(session: Session, cpr_hash: bytes, department_ids: Iterable[uuid.UUID]) -> list[PatientRow]:
    rows = session.execute(select(*_PATIENT_COLUMNS).where(
        patients.c.cpr_hash == cpr_hash, patients.c.id.in_(_current_at(department_ids)))).all()
    return [_patient(row) for row in rows]


def find_by_name_at(session: Session, pattern: str, department_ids: Iterable[uuid.UUID], *,
                    limit: int) -> list[PatientRow]:
    """Patients of these departments whose name contains the (LIKE) pattern, by name."""
    ids = session.execute(
        select(registrations.c.patient_id, registrations.c.patient_name).distinct()
        .where(registrations.c.department_id.in_(list(department_ids)), registrations.c.ended_at.is_(None),
               func.lower(registrations.c.patient_name).like(pattern, escape="\\"))
        .order_by(registrations.c.patient_name, registrations.c.patient_id).limit(limit)).scalars().all()
    return _in_order(session, ids)


def _in_order(session: Session, ids: list[uuid.UUID]) -> list[PatientRow]:
    found = patients_by_ids(session, ids)
    return [found[patient_id] for patient_id in ids if patient_id in found]


def department_patients(session: Session, department_id: uuid.UUID, *, platform_status: str | None,
                        limit: int, offset: int) -> tuple[int, list[PatientRow]]:
    """The department's current patients by name (a page of them), and how many there are."""
    query = select(registrations.c.patient_id).where(registrations.c.department_id == department_id,
                                                     registrations.c.ended_at.is_(None))
    if platform_status == "unknown":
        query = query.where(registrations.c.platform_status.is_(None))
    elif platform_status is not None:
        query = query.where(registrations.c.platform_status == platform_status)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    ids = session.execute(query.order_by(registrations.c.patient_name, registrations.c.patient_id)
                          .limit(limit).offset(offset)).scalars().all()
    return total, _in_order(session, ids)


def board_counts(session: Session, department_id: uuid.UUID) -> list[tuple[str, str | None, int]]:
    """(diagnosis group, platform status or None, patients) for the department's current patients."""
    rows = session.execute(
        select(registrations.c.diagnosis_group, registrations.c.platform_status, func.count())
        .where(registrations.c.department_id == department_id, registrations.c.ended_at.is_(None))
        .group_by(registrations.c.diagnosis_group, registrations.c.platform_status)).all()
    return [(row[0], row[1], row[2]) for row in rows]


# --- platform status -----------------------------------------------------------------------------

def status_report_at(session: Session, patient_id: uuid.UUID, reported_at: datetime) -> PlatformStatus | None:
    row = session.execute(select(platform_status_reports.c.status, platform_status_reports.c.reported_at).where(
        platform_status_reports.c.patient_id == patient_id,
        platform_status_reports.c.reported_at == reported_at)).first()
    return PlatformStatus(row.status, utc(row.reported_at)) if row else None


def insert_status_report(session: Session, *, patient_id: uuid.UUID, report: PlatformStatus, applied: bool,
                         now: datetime, by: str) -> None:
    session.execute(insert(platform_status_reports).values(
        id=uuid.uuid4(), patient_id=patient_id, status=report.status, reported_at=report.reported_at,
        received_at=now, reported_by=by, applied=applied))


def status_history(session: Session, patient_id: uuid.UUID) -> list[tuple[PlatformStatus, datetime]]:
    """Every report, newest (by the platform's clock) first, with when it arrived."""
    rows = session.execute(select(platform_status_reports).where(
        platform_status_reports.c.patient_id == patient_id)
        .order_by(platform_status_reports.c.reported_at.desc())).all()
    return [(PlatformStatus(row.status, utc(row.reported_at)), utc(row.received_at)) for row in rows]
