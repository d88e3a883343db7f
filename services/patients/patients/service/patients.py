"""Use cases on patients: look up a CPR, create, read, change, search, list and count.

Every use case that shows a patient's name or CPR writes an audit entry in its own transaction.
A CPR arrives in a request body only, is parsed here, and leaves this module only sealed, hashed
or masked (the patient page, which a clinician needs, is the one exception).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from servicekit.errors import Conflict, InvalidInput, NotFound
from servicekit.principal import Principal
from servicekit.uow import UnitOfWork

from ..adapters import patient_repository as repo
from ..adapters.cpr_vault import CprVault
from ..adapters.patient_repository import PatientRow
from ..domain import access, audit
from ..domain.cpr import Cpr, InvalidCpr, looks_like_cpr, parse_cpr
from ..domain.patients import (Board, DepartmentRef, Patient, PatientSummary, board, check_diagnosis_group,
                               clean_name, name_search_term)
from .audit import cpr_criterion, now_utc, record

log = logging.getLogger(__name__)

NAME_SEARCH_LIMIT = 50


def read_cpr(text, *, now: datetime) -> Cpr:
    """The CPR in a request, or 422 naming the field (the message never repeats the number)."""
    try:
        return parse_cpr(text, today=now.date())
    except InvalidCpr as exc:
        raise InvalidInput("The CPR number is not valid.", errors={"cpr": [str(exc)]},
                           codes={"cpr": exc.code}) from None


def parse_cpr_shape(text: str) -> str | None:
    """The text when it is nothing but a CPR-shaped number (surrounding blanks aside)."""
    stripped = (text or "").strip()
    return stripped if looks_like_cpr(stripped) and len(stripped.replace("-", "")) == 10 else None


def active_department(uow: UnitOfWork, department_id: uuid.UUID, *, field: str = "department_id") -> DepartmentRef:
    department = repo.department_ref(uow.session, department_id)
    if department is None:
        raise InvalidInput("Some fields are missing or invalid.", errors={field: ["no such department"]},
                           codes={field: "unknown_department"})
    if not department.active:
        raise InvalidInput("Some fields are missing or invalid.", errors={field: ["the department is closed"]},
                           codes={field: "department_closed"})
    return department


# --- E1: is the patient registered elsewhere? ----------------------------------------------------

@dataclass(frozen=True)
class Lookup:
    cpr_masked: str
    modulus11_valid: bool
    known: bool
    patient_id: uuid.UUID | None                   # only when the user may read the patient
    your_departments: tuple[DepartmentRef, ...]    # registered here, among the user's departments
    other_departments: tuple[DepartmentRef, ...]   # registered elsewhere: department names only


def lookup(uow: UnitOfWork, vault: CprVault, principal: Principal, *, cpr: str,
           now: datetime | None = None) -> Lookup:
    """Where a typed CPR is registered: the user's own departments, and by name the others."""
    access.require_user(principal)
    now = now or now_utc()
    number = read_cpr(cpr, now=now)
    patient_id, registered_at = repo.where_registered(uow.session, vault.digest(number))
    registered = {d.id for d in registered_at}
    mine = tuple(sorted((d for d in registered_at if d.id in principal.departments), key=_by_name))
    others = tuple(sorted((d for d in registered_at if d.id not in principal.departments), key=_by_name))
    readable = patient_id is not None and access.can_read(principal, registered)
    record(uow, principal, audit.PATIENT_LOOKUP, now=now, patient_ids=[patient_id] if patient_id else [],
           details={**cpr_criterion(vault, number), "found": patient_id is not None})
    uow.commit()
    return Lookup(cpr_masked=number.masked, modulus11_valid=number.modulus11_valid, known=patient_id is not None,
                  patient_id=patient_id if readable else None, your_departments=mine, other_departments=others)


def _by_name(department: DepartmentRef) -> tuple[str, str]:
    return department.name, department.hospital_name


# --- create, read, change ------------------------------------------------------------------------

def create_patient(uow: UnitOfWork, vault: CprVault, principal: Principal, *, cpr: str, name: str,
                   diagnosis_group: str, department_id: uuid.UUID, now: datetime | None = None) -> Patient:
    """A new patient registered at one of the user's departments. A CPR that exists already is a
    409 saying where it is registered: the way in is a transfer request, approved by them."""
    access.require_user(principal)
    now = now or now_utc()
    access.require_own_department(principal, department_id)
    number = read_cpr(cpr, now=now)
    name, diagnosis_group = clean_name(name), check_diagnosis_group(diagnosis_group)
    active_department(uow, department_id)
    digest = vault.digest(number)
    patient_id = uuid.uuid4()
    existing = repo.patient_id_by_hash(uow.session, digest)
    if existing is None:
        try:
            with uow.session.begin_nested():
                repo.insert_patient(uow.session, patient_id=patient_id, cpr_hash=digest,
                                    cpr_encrypted=vault.seal(number), name=name, diagnosis_group=diagnosis_group,
                                    now=now, by=principal.subject)
        except IntegrityError:
            # Another department created the same CPR a moment ago: its row is committed now.
            log.info("patient created concurrently elsewhere", extra={"department_id": str(department_id)})
            existing = repo.patient_id_by_hash(uow.session, digest)
            if existing is None:
                raise
    if existing is not None:
        _refuse_existing(uow, vault, principal, number, existing, department_id, now=now)
    repo.register(uow.session, patient_id=patient_id, department_id=department_id, now=now, by=principal.subject)
    record(uow, principal, audit.PATIENT_CREATE, now=now, patient_ids=[patient_id], department_id=department_id,
           details={"diagnosis_group": diagnosis_group})
    uow.commit()
    return _patient_page(uow, vault, repo.get_patient(uow.session, patient_id))


def _refuse_existing(uow: UnitOfWork, vault: CprVault, principal: Principal, number: Cpr,
                     patient_id: uuid.UUID, department_id: uuid.UUID, *, now: datetime) -> None:
    registered = repo.active_departments(uow.session, patient_id)
    record(uow, principal, audit.PATIENT_CREATE_REFUSED, now=now, patient_ids=[patient_id],
           department_id=department_id, details=cpr_criterion(vault, number))
    uow.commit()
    if department_id in registered:
        raise Conflict("The patient is already registered at this department.", codes={"cpr": "registered_here"})
    names = sorted(f"{d.name}, {d.hospital_name}" for d in repo.department_refs(uow.session, registered).values())
    raise Conflict("The patient is already registered at another department; request a transfer from there.",
                   errors={"registered_at": names}, codes={"cpr": "registered_elsewhere"})


def read_patient(uow: UnitOfWork, vault: CprVault, principal: Principal, patient_id: uuid.UUID, *,
                 now: datetime | None = None) -> Patient:
    """The patient page: full CPR, registrations with their history, platform status."""
    access.require_user(principal)
    now = now or now_utc()
    row = repo.get_patient(uow.session, patient_id)
    if row is None:
        raise NotFound(access.NOT_YOURS)
    access.require_read(principal, repo.active_departments(uow.session, patient_id))
    page = _patient_page(uow, vault, row)
    record(uow, principal, audit.PATIENT_READ, now=now, patient_ids=[patient_id])
    uow.commit()
    return page


def change_patient(uow: UnitOfWork, vault: CprVault, principal: Principal, patient_id: uuid.UUID, *,
                   name: str | None = None, diagnosis_group: str | None = None,
                   now: datetime | None = None) -> Patient:
    """Correct a patient's name or diagnosis group (the departments the patient is registered at)."""
    access.require_user(principal)
    now = now or now_utc()
    row = repo.get_patient(uow.session, patient_id, lock=True)
    if row is None:
        raise NotFound(access.NOT_YOURS)
    access.require_change(principal, repo.active_departments(uow.session, patient_id))
    values = {}
    if name is not None:
        values["name"] = clean_name(name)
    if diagnosis_group is not None:
        values["diagnosis_group"] = check_diagnosis_group(diagnosis_group)
    changed = {key: value for key, value in values.items() if getattr(row, key) != value}
    if changed:
        repo.update_patient(uow.session, patient_id, **changed)
    record(uow, principal, audit.PATIENT_UPDATE, now=now, patient_ids=[patient_id],
           details={"changed": sorted(changed)})
    uow.commit()
    return _patient_page(uow, vault, repo.get_patient(uow.session, patient_id))


def _patient_page(uow: UnitOfWork, vault: CprVault, row: PatientRow) -> Patient:
    number = vault.open(row.cpr_encrypted)
    return Patient(id=row.id, cpr=number.formatted, cpr_masked=number.masked, name=row.name,
                   diagnosis_group=row.diagnosis_group, created_at=row.created_at,
                   registrations=tuple(repo.registration_history(uow.session, row.id)),
                   platform_status=row.platform_status)


# --- G: search; lists and the board --------------------------------------------------------------

def search(uow: UnitOfWork, vault: CprVault, principal: Principal, *, cpr: str | None = None,
           name: str | None = None, department_id: uuid.UUID | None = None,
           now: datetime | None = None) -> list[PatientSummary]:
    """Patients of the user's own departments (or one of them) by CPR (exact) or name (partial)."""
    access.require_user(principal)
    now = now or now_utc()
    if (cpr is None) == (name is None):
        raise InvalidInput("Search by either CPR or name.", errors={"cpr": ["give cpr or name, not both"]},
                           codes={"cpr": "cpr_or_name"})
    if name is not None and looks_like_cpr(name):
        # A CPR typed into the name field: searched as the CPR it is, so that the audit entry keeps
        # its hash, never the number; with other text around it, refused.
        if parse_cpr_shape(name) is None:
            raise InvalidInput("A name holds no CPR number.", errors={"name": ["search by cpr instead"]},
                               codes={"name": "cpr_in_name"})
        cpr, name = name, None
    scope = set(principal.departments)
    if department_id is not None:
        access.require_own_department(principal, department_id)
        scope = {department_id}
    if cpr is not None:
        number = read_cpr(cpr, now=now)
        criterion = cpr_criterion(vault, number)
        rows = repo.find_by_hash_at(uow.session, vault.digest(number), scope) if scope else []
    else:
        pattern = name_search_term(name)
        criterion = {"criterion": "name", "name": " ".join(name.split())}
        rows = repo.find_by_name_at(uow.session, pattern, scope, limit=NAME_SEARCH_LIMIT) if scope else []
    results = summaries(uow, vault, rows, scope)
    record(uow, principal, audit.PATIENT_SEARCH, now=now, patient_ids=[r.id for r in results],
           department_id=department_id, details={**criterion, "results": len(results)})
    uow.commit()
    return results


def summaries(uow: UnitOfWork, vault: CprVault, rows: list[PatientRow], scope: set[uuid.UUID]) -> list[PatientSummary]:
    registered = repo.active_departments_of(uow.session, [row.id for row in rows])
    refs = repo.department_refs(uow.session, {d for ids in registered.values() for d in ids if d in scope})
    return [PatientSummary(id=row.id, cpr_masked=vault.open(row.cpr_encrypted).masked, name=row.name,
                           diagnosis_group=row.diagnosis_group, platform_status=row.platform_status,
                           departments=tuple(sorted((refs[d] for d in registered.get(row.id, ()) if d in refs),
                                                    key=_by_name)))
            for row in rows]


@dataclass(frozen=True)
class DepartmentPatients:
    department: DepartmentRef
    total: int
    items: list[PatientSummary]


def department_patients(uow: UnitOfWork, vault: CprVault, principal: Principal, department_id: uuid.UUID, *,
                        platform_status: str | None = None, limit: int = 100, offset: int = 0,
                        now: datetime | None = None) -> DepartmentPatients:
    """A department's current patients with their platform status, by name (app-integration page)."""
    access.require_user(principal)
    now = now or now_utc()
    access.require_department(principal, department_id)
    department = repo.department_ref(uow.session, department_id)
    if department is None:
        raise NotFound("No such department.")
    total, rows = repo.department_patients(uow.session, department_id, platform_status=platform_status,
                                           limit=limit, offset=offset)
    items = summaries(uow, vault, rows, {department_id})
    record(uow, principal, audit.DEPARTMENT_PATIENTS_LIST, now=now, patient_ids=[r.id for r in items],
           department_id=department_id, details={"platform_status": platform_status, "offset": offset,
                                                 "shown": len(items)})
    uow.commit()
    return DepartmentPatients(department=department, total=total, items=items)


def department_board(uow: UnitOfWork, principal: Principal, department_id: uuid.UUID) -> Board:
    """Counts by diagnosis group and platform status ("Patienttavle Graf"); no patient is shown."""
    access.require_user(principal)
    access.require_department(principal, department_id)
    department = repo.department_ref(uow.session, department_id)
    if department is None:
        raise NotFound("No such department.")
    return board(department, repo.board_counts(uow.session, department_id))
