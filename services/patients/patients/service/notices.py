"""In-app notices about transfer steps, per department: listed and dismissed by its users."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from servicekit.errors import NotFound
from servicekit.principal import Principal
from servicekit.uow import UnitOfWork

from ..adapters import patient_repository as patients_repo
from ..adapters import transfer_repository as repo
from ..adapters.cpr_vault import CprVault
from ..domain import access
from ..domain.patients import DepartmentRef
from ..domain.transfers import Transfer
from .audit import now_utc


@dataclass(frozen=True)
class Notice:
    id: uuid.UUID
    department: DepartmentRef
    kind: str
    created_at: datetime
    dismissed_at: datetime | None
    transfer: Transfer
    cpr_masked: str   # the patient by birth date only: a notice shows no name


def list_notices(uow: UnitOfWork, vault: CprVault, principal: Principal, *, department_id: uuid.UUID | None = None,
                 include_dismissed: bool = False) -> list[Notice]:
    access.require_user(principal)
    if department_id is not None:
        access.require_own_department(principal, department_id)
    scope = [department_id] if department_id else list(principal.departments)
    rows = repo.list_notices(uow.session, scope, include_dismissed=include_dismissed)
    refs = patients_repo.department_refs(uow.session, {row[1] for row in rows})
    patients = patients_repo.patients_by_ids(uow.session, {row[5].patient_id for row in rows})
    return [Notice(id=notice_id, department=refs[department], kind=kind, created_at=created, dismissed_at=dismissed,
                   transfer=transfer, cpr_masked=vault.open(patients[transfer.patient_id].cpr_encrypted).masked)
            for notice_id, department, kind, created, dismissed, transfer in rows]


def dismiss(uow: UnitOfWork, principal: Principal, notice_id: uuid.UUID, *, now: datetime | None = None) -> None:
    """Mark a notice as seen, for everyone in its department."""
    access.require_user(principal)
    found = repo.notice_department(uow.session, notice_id)
    if found is None or found[0] not in principal.departments:
        raise NotFound("No such notice.")
    repo.dismiss_notice(uow.session, notice_id, now=now or now_utc(), by=principal.subject)
    uow.commit()
