"""The audit log: appended to, never changed (triggers in the migration refuse UPDATE and DELETE)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import ARRAY, Uuid, cast, func, insert, select
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from .tables import audit_log, audit_log_patients
from .timestamps import utc


@dataclass(frozen=True)
class AuditEntry:
    id: int
    occurred_at: datetime
    actor_subject: str
    actor_username: str
    actor_kind: str
    action: str
    department_id: uuid.UUID | None
    transfer_id: uuid.UUID | None
    details: dict[str, Any]


def append(session: Session, *, now: datetime, actor_subject: str, actor_username: str, actor_kind: str,
           action: str, patient_ids: Iterable[uuid.UUID] = (), department_id: uuid.UUID | None = None,
           transfer_id: uuid.UUID | None = None, details: dict[str, Any] | None = None,
           correlation_id: str | None = None) -> None:
    entry = insert(audit_log).values(
        occurred_at=now, actor_subject=actor_subject, actor_username=actor_username, actor_kind=actor_kind,
        action=action, department_id=department_id, transfer_id=transfer_id, details=details or {},
        correlation_id=correlation_id).returning(audit_log.c.id)
    linked = sorted({uuid.UUID(str(p)) for p in patient_ids})
    if not linked:
        session.execute(entry)
    elif session.get_bind().dialect.name == "postgresql":
        # One round trip for the entry and its patients: every read of a patient writes one.
        written = entry.cte("entry")
        patients = select(written.c.id, func.unnest(cast(array(linked), ARRAY(Uuid))))
        session.execute(insert(audit_log_patients).from_select(["audit_id", "patient_id"], patients))
    else:
        entry_id = session.execute(entry).scalar_one()
        session.execute(insert(audit_log_patients), [{"audit_id": entry_id, "patient_id": p} for p in linked])


def entries_for_patient(session: Session, patient_id: uuid.UUID, *, limit: int, offset: int) -> list[AuditEntry]:
    rows = session.execute(
        select(audit_log).join(audit_log_patients, audit_log_patients.c.audit_id == audit_log.c.id)
        .where(audit_log_patients.c.patient_id == patient_id)
        .order_by(audit_log.c.occurred_at.desc(), audit_log.c.id.desc()).limit(limit).offset(offset)).all()
    return [AuditEntry(id=r.id, occurred_at=utc(r.occurred_at), actor_subject=r.actor_subject,
                       actor_username=r.actor_username, actor_kind=r.actor_kind, action=r.action,
                       department_id=r.department_id, transfer_id=r.transfer_id, details=r.details or {})
            for r in rows]
