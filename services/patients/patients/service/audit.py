"""Recording to the audit log, and reading it back (registry administrators only)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Iterable

from servicekit.errors import NotFound
from servicekit.logs import current_correlation_id
from servicekit.principal import Principal, require_registry_admin
from servicekit.uow import UnitOfWork

from ..adapters import audit_repository, patient_repository
from ..adapters.audit_repository import AuditEntry
from ..domain import audit
from ..domain.cpr import Cpr


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def record(uow: UnitOfWork, principal: Principal | None, action: str, *, now: datetime,
           patient_ids: Iterable[uuid.UUID] = (), department_id: uuid.UUID | None = None,
           transfer_id: uuid.UUID | None = None, details: dict[str, Any] | None = None) -> None:
    """Append one entry in the use case's transaction (``principal`` None: the system itself)."""
    if principal is None:
        subject, username, kind = audit.SYSTEM_SUBJECT, audit.SYSTEM_USERNAME, "system"
    else:
        subject, username, kind = principal.subject, principal.username, principal.kind
    audit_repository.append(uow.session, now=now, actor_subject=subject, actor_username=username, actor_kind=kind,
                            action=action, patient_ids=patient_ids, department_id=department_id,
                            transfer_id=transfer_id, details=details, correlation_id=current_correlation_id())


def cpr_criterion(vault, cpr: Cpr) -> dict[str, str]:
    """A CPR as the audit log keeps it: its keyed hash, which an administrator can recompute."""
    return {"criterion": "cpr", "cpr_hash": vault.digest(cpr).hex()}


def who_accessed(uow: UnitOfWork, principal: Principal, patient_id: uuid.UUID, *, limit: int = 100,
                 offset: int = 0, now: datetime | None = None) -> list[AuditEntry]:
    """Every audit entry about a patient, newest first (registry administrators only)."""
    require_registry_admin(principal)
    now = now or now_utc()
    if patient_repository.get_patient(uow.session, patient_id) is None:
        raise NotFound("No such patient.")
    entries = audit_repository.entries_for_patient(uow.session, patient_id, limit=limit, offset=offset)
    record(uow, principal, audit.AUDIT_READ, now=now, patient_ids=[patient_id])
    uow.commit()
    return entries
