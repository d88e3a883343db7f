"""Use cases on transfer requests (E1, E2): request, approve, reject, cancel, expire, list.

A department asks to take over a patient registered at another one; the source department (or a
registry administrator) decides. Approval moves the registration in the same transaction: the
source's registration ends (kept as history), the requester's begins. Each step leaves in-app
notices for the department that should hear of it, an audit entry and, where another service may
care, an event (never with a CPR or a patient's name).

Two requests for the same patient from the same source can never both be pending: the patient's
row is locked while a request is made or decided, and a partial unique index backs that up.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from servicekit.errors import Conflict, InvalidInput, NotFound
from servicekit.principal import Principal
from servicekit.uow import UnitOfWork

from ..adapters import patient_repository as patients_repo
from ..adapters import transfer_repository as repo
from ..adapters.cpr_vault import CprVault
from ..domain import access, audit
from ..domain.transfers import (APPROVED, CANCELLED, EXPIRED, NOTICE_APPROVED, NOTICE_CANCELLED, NOTICE_EXPIRED,
                                NOTICE_REJECTED, NOTICE_REQUESTED, REJECTED, Transfer, clean_reason,
                                expiry, require_decider, require_pending, require_requester, visible_to)
from .audit import now_utc, record
from .patients import active_department, read_cpr

TRANSFER_REQUESTED = "patients.transfer.requested"
TRANSFER_DECIDED = "patients.transfer.decided"
TRANSFER_COMPLETED = "patients.transfer.completed"

NO_SUCH_TRANSFER = "No such transfer request."


@dataclass(frozen=True)
class TransferView:
    """A request as a viewer sees it: the patient's name only for those who may read the patient."""

    transfer: Transfer
    cpr_masked: str
    patient_name: str | None


def request_transfers(uow: UnitOfWork, vault: CprVault, principal: Principal, *, cpr: str,
                      from_department_ids: list[uuid.UUID], to_department_id: uuid.UUID, lifetime: timedelta,
                      now: datetime | None = None) -> list[TransferView]:
    """Ask each of the departments a patient is registered at to hand the patient over to one of
    the user's own departments: one pending request per source department."""
    access.require_user(principal)
    now = now or now_utc()
    access.require_own_department(principal, to_department_id, field="to_department_id")
    number = read_cpr(cpr, now=now)
    sources = list(dict.fromkeys(from_department_ids))
    if not sources:
        raise InvalidInput("Some fields are missing or invalid.",
                           errors={"from_department_ids": ["choose at least one department"]},
                           codes={"from_department_ids": "required"})
    active_department(uow, to_department_id, field="to_department_id")
    patient_id = patients_repo.patient_id_by_hash(uow.session, vault.digest(number))
    if patient_id is None:
        raise InvalidInput("No patient with this CPR number is registered.",
                           errors={"cpr": ["no patient with this CPR number is registered"]},
                           codes={"cpr": "cpr_unknown"})
    patient = patients_repo.get_patient(uow.session, patient_id, lock=True)
    registered = patients_repo.active_departments(uow.session, patient_id)
    if to_department_id in registered:
        raise Conflict("The patient is already registered at your department.",
                       codes={"to_department_id": "registered_here"})
    not_there = [d for d in sources if d not in registered]
    if not_there:
        raise InvalidInput("Some fields are missing or invalid.",
                           errors={"from_department_ids": ["the patient is not registered at this department"]},
                           codes={"from_department_ids": "not_registered_there"})
    created = []
    for source in sources:
        transfer_id = uuid.uuid4()
        try:
            with uow.session.begin_nested():
                repo.insert_transfer(uow.session, transfer_id=transfer_id, patient_id=patient_id,
                                     from_department_id=source, to_department_id=to_department_id,
                                     requested_by=principal.subject, requested_by_name=principal.username,
                                     now=now, expires_at=expiry(now, lifetime))
        except IntegrityError:
            source_name = patients_repo.department_ref(uow.session, source).name
            raise Conflict(f"A transfer request for this patient from {source_name} is already pending.",
                           codes={"from_department_ids": "transfer_pending"}) from None
        transfer = repo.get_transfer(uow.session, transfer_id)
        repo.add_notice(uow.session, department_id=source, kind=NOTICE_REQUESTED, transfer_id=transfer_id, now=now)
        uow.emit(TRANSFER_REQUESTED, {
            "transfer_id": str(transfer_id), "patient_id": str(patient_id),
            "from_department": transfer.from_department.event_data(),
            "to_department": transfer.to_department.event_data(),
            "requested_at": now.isoformat(), "expires_at": transfer.expires_at.isoformat(),
            "requested_by": _person(transfer.requested_by, transfer.requested_by_name)})
        record(uow, principal, audit.TRANSFER_REQUEST, now=now, patient_ids=[patient_id],
               department_id=to_department_id, transfer_id=transfer_id,
               details={"from_department_id": str(source)})
        created.append(transfer)
    uow.commit()
    # The requester typed the CPR; the name stays with the source until the patient is theirs.
    name = patient.name if access.can_read(principal, registered) else None
    return [TransferView(transfer, number.masked, name) for transfer in created]


def approve(uow: UnitOfWork, principal: Principal, transfer_id: uuid.UUID, *, reason: str | None = None,
            now: datetime | None = None) -> Transfer:
    """Hand the patient over: the source's registration ends, the requester's begins."""
    transfer, now = _decidable(uow, principal, transfer_id, now)
    reason = clean_reason(reason, required=False)
    patients_repo.get_patient(uow.session, transfer.patient_id, lock=True)
    moved = patients_repo.end_registration(uow.session, patient_id=transfer.patient_id,
                                           department_id=transfer.from_department.id, now=now,
                                           by=principal.subject, reason="transferred", transfer_id=transfer.id)
    if not moved:
        raise Conflict("The patient is no longer registered at the source department.",
                       codes={"transfer": "not_registered_there"})
    if transfer.to_department.id not in patients_repo.active_departments(uow.session, transfer.patient_id):
        patients_repo.register(uow.session, patient_id=transfer.patient_id, department_id=transfer.to_department.id,
                               now=now, by=principal.subject, transfer_id=transfer.id)
    decided = _close(uow, principal, transfer, APPROVED, reason, now, notify=[(transfer.to_department.id,
                                                                              NOTICE_APPROVED)])
    uow.emit(TRANSFER_COMPLETED, {
        "transfer_id": str(transfer.id), "patient_id": str(transfer.patient_id),
        "from_department": transfer.from_department.event_data(), "to_department": transfer.to_department.event_data(),
        "completed_at": now.isoformat()})
    record(uow, principal, audit.TRANSFER_APPROVE, now=now, patient_ids=[transfer.patient_id],
           department_id=transfer.from_department.id, transfer_id=transfer.id, details={"reason": reason})
    uow.commit()
    return decided


def reject(uow: UnitOfWork, principal: Principal, transfer_id: uuid.UUID, *, reason: str,
           now: datetime | None = None) -> Transfer:
    """Refuse the request, saying why; the patient stays where it is."""
    transfer, now = _decidable(uow, principal, transfer_id, now)
    reason = clean_reason(reason, required=True)
    decided = _close(uow, principal, transfer, REJECTED, reason, now,
                     notify=[(transfer.to_department.id, NOTICE_REJECTED)])
    record(uow, principal, audit.TRANSFER_REJECT, now=now, patient_ids=[transfer.patient_id],
           department_id=transfer.from_department.id, transfer_id=transfer.id, details={"reason": reason})
    uow.commit()
    return decided


def cancel(uow: UnitOfWork, principal: Principal, transfer_id: uuid.UUID, *, now: datetime | None = None) -> Transfer:
    """The requesting department withdraws its request."""
    access.require_user(principal)
    now = now or now_utc()
    transfer = _visible(uow, principal, transfer_id, lock=True)
    require_requester(principal, transfer)
    require_pending(transfer, now)
    cancelled = _close(uow, principal, transfer, CANCELLED, None, now,
                       notify=[(transfer.from_department.id, NOTICE_CANCELLED)])
    record(uow, principal, audit.TRANSFER_CANCEL, now=now, patient_ids=[transfer.patient_id],
           department_id=transfer.to_department.id, transfer_id=transfer.id)
    uow.commit()
    return cancelled


def expire_overdue(uow: UnitOfWork, *, now: datetime | None = None, batch: int = 100) -> int:
    """Expire pending requests past their time (the worker's periodic job); both sides get a notice."""
    now = now or now_utc()
    expired = 0
    while True:
        ids = repo.overdue_ids(uow.session, now, limit=batch)
        for transfer_id in ids:
            transfer = repo.get_transfer(uow.session, transfer_id)
            _close(uow, None, transfer, EXPIRED, None, now, notify=[(transfer.from_department.id, NOTICE_EXPIRED),
                                                                    (transfer.to_department.id, NOTICE_EXPIRED)])
            record(uow, None, audit.TRANSFER_EXPIRE, now=now, patient_ids=[transfer.patient_id],
                   transfer_id=transfer.id, details={"expires_at": transfer.expires_at.isoformat()})
        uow.commit()
        expired += len(ids)
        if len(ids) < batch:
            return expired


def get_transfer(uow: UnitOfWork, vault: CprVault, principal: Principal, transfer_id: uuid.UUID, *,
                 now: datetime | None = None) -> TransferView:
    access.require_user(principal)
    transfer = _visible(uow, principal, transfer_id)
    return _views(uow, vault, principal, [transfer], now=now or now_utc())[0]


def incoming(uow: UnitOfWork, vault: CprVault, principal: Principal, *, department_id: uuid.UUID | None = None,
             status: str | None = None, now: datetime | None = None) -> list[TransferView]:
    """Requests to hand over patients of the user's departments (all of them for an administrator)."""
    access.require_user(principal)
    scope = _scope(principal, department_id)
    transfers = repo.list_transfers(uow.session, from_departments=scope, statuses=[status] if status else None)
    return _views(uow, vault, principal, transfers, now=now or now_utc())


def outgoing(uow: UnitOfWork, vault: CprVault, principal: Principal, *, department_id: uuid.UUID | None = None,
             status: str | None = None, now: datetime | None = None) -> list[TransferView]:
    """Requests the user's departments made."""
    access.require_user(principal)
    if department_id is not None:
        access.require_own_department(principal, department_id)
    scope = [department_id] if department_id else principal.departments
    transfers = repo.list_transfers(uow.session, to_departments=scope, statuses=[status] if status else None)
    return _views(uow, vault, principal, transfers, now=now or now_utc())


# --- helpers -------------------------------------------------------------------------------------

def _scope(principal: Principal, department_id: uuid.UUID | None):
    if department_id is not None:
        access.require_department(principal, department_id)
        return [department_id]
    return None if principal.registry_admin else principal.departments


def _visible(uow: UnitOfWork, principal: Principal, transfer_id: uuid.UUID, *, lock: bool = False) -> Transfer:
    transfer = repo.get_transfer(uow.session, transfer_id, lock=lock)
    if transfer is None or not visible_to(principal, transfer):
        raise NotFound(NO_SUCH_TRANSFER)
    return transfer


def _decidable(uow: UnitOfWork, principal: Principal, transfer_id: uuid.UUID,
               now: datetime | None) -> tuple[Transfer, datetime]:
    access.require_user(principal)
    now = now or now_utc()
    transfer = _visible(uow, principal, transfer_id, lock=True)
    require_decider(principal, transfer)
    if transfer.overdue(now):
        # Nobody decided in time: it expires now, whoever came to decide it.
        expire_overdue(uow, now=now)
    require_pending(transfer, now)
    return transfer, now


def _close(uow: UnitOfWork, principal: Principal | None, transfer: Transfer, status: str, reason: str | None,
           now: datetime, *, notify: list[tuple[uuid.UUID, str]]) -> Transfer:
    repo.close_transfer(uow.session, transfer.id, status=status, now=now,
                        by=principal.subject if principal else None,
                        by_name=principal.username if principal else None, reason=reason)
    for department_id, kind in notify:
        repo.add_notice(uow.session, department_id=department_id, kind=kind, transfer_id=transfer.id, now=now)
    closed = repo.get_transfer(uow.session, transfer.id)
    if status in (APPROVED, REJECTED):
        uow.emit(TRANSFER_DECIDED, {
            "transfer_id": str(transfer.id), "decision": status, "reason": reason,
            "from_department": transfer.from_department.event_data(),
            "to_department": transfer.to_department.event_data(),
            "decided_at": now.isoformat(),
            "requested_by": _person(transfer.requested_by, transfer.requested_by_name)})
    return closed


def _person(subject: str, username: str) -> dict:
    """The requester as the contracts' Person: the gateway's principal carries no e-mail address."""
    return {"user_id": subject, "name": username}


def _views(uow: UnitOfWork, vault: CprVault, principal: Principal, transfers: list[Transfer], *,
           now: datetime) -> list[TransferView]:
    rows = patients_repo.patients_by_ids(uow.session, [t.patient_id for t in transfers])
    registered = patients_repo.active_departments_of(uow.session, rows)
    views, named = [], set()
    for transfer in transfers:
        row = rows[transfer.patient_id]
        readable = access.can_read(principal, registered.get(transfer.patient_id, ()))
        if readable:
            named.add(transfer.patient_id)
        views.append(TransferView(transfer, vault.open(row.cpr_encrypted).masked, row.name if readable else None))
    if named:
        record(uow, principal, audit.TRANSFER_LIST, now=now, patient_ids=named, details={"shown": len(views)})
    uow.commit()
    return views

