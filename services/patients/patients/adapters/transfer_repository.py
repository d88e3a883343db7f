"""Reads and writes of transfer requests and the in-app notices about them."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Iterable

from sqlalchemy import and_, insert, select, update
from sqlalchemy.orm import Session, aliased

from ..domain.patients import DepartmentRef
from ..domain.transfers import PENDING, Transfer
from .tables import departments, hospitals, notices, transfer_requests
from .timestamps import utc

_from_d, _to_d = aliased(departments), aliased(departments)
_from_h, _to_h = aliased(hospitals), aliased(hospitals)

_JOINED = (select(transfer_requests,
                  _from_d.c.name.label("from_name"), _from_d.c.active.label("from_active"),
                  _from_h.c.name.label("from_hospital"),
                  _to_d.c.name.label("to_name"), _to_d.c.active.label("to_active"), _to_h.c.name.label("to_hospital"))
           .join(_from_d, transfer_requests.c.from_department_id == _from_d.c.id)
           .join(_from_h, _from_d.c.hospital_id == _from_h.c.id)
           .join(_to_d, transfer_requests.c.to_department_id == _to_d.c.id)
           .join(_to_h, _to_d.c.hospital_id == _to_h.c.id))


def _transfer(row) -> Transfer:
    return Transfer(
        id=row.id, patient_id=row.patient_id, status=row.status,
        from_department=DepartmentRef(row.from_department_id, row.from_name, row.from_hospital, row.from_active),
        to_department=DepartmentRef(row.to_department_id, row.to_name, row.to_hospital, row.to_active),
        requested_by=row.requested_by, requested_by_name=row.requested_by_name,
        requested_at=utc(row.requested_at), expires_at=utc(row.expires_at),
        decided_by=row.decided_by, decided_by_name=row.decided_by_name, decided_at=utc(row.decided_at),
        reason=row.reason)


def insert_transfer(session: Session, *, transfer_id: uuid.UUID, patient_id: uuid.UUID,
                    from_department_id: uuid.UUID, to_department_id: uuid.UUID, requested_by: str,
                    requested_by_name: str, now: datetime, expires_at: datetime) -> None:
    session.execute(insert(transfer_requests).values(
        id=transfer_id, patient_id=patient_id, from_department_id=from_department_id,
        to_department_id=to_department_id, status=PENDING, requested_by=requested_by,
        requested_by_name=requested_by_name, requested_at=now, expires_at=expires_at))


def get_transfer(session: Session, transfer_id: uuid.UUID, *, lock: bool = False) -> Transfer | None:
    query = _JOINED.where(transfer_requests.c.id == transfer_id)
    row = session.execute(query.with_for_update(of=transfer_requests) if lock else query).first()
    return _transfer(row) if row else None


def close_transfer(session: Session, transfer_id: uuid.UUID, *, status: str, now: datetime,
                   by: str | None, by_name: str | None, reason: str | None) -> None:
    session.execute(update(transfer_requests).where(transfer_requests.c.id == transfer_id).values(
        status=status, decided_at=now, decided_by=by, decided_by_name=by_name, reason=reason))


def list_transfers(session: Session, *, from_departments: Iterable[uuid.UUID] | None = None,
                   to_departments: Iterable[uuid.UUID] | None = None, statuses: Iterable[str] | None = None,
                   limit: int = 200) -> list[Transfer]:
    """Requests from (incoming) or to (outgoing) these departments, newest first; None: any."""
    query = _JOINED
    if from_departments is not None:
        query = query.where(transfer_requests.c.from_department_id.in_(list(from_departments)))
    if to_departments is not None:
        query = query.where(transfer_requests.c.to_department_id.in_(list(to_departments)))
    if statuses:
        query = query.where(transfer_requests.c.status.in_(list(statuses)))
    rows = session.execute(query.order_by(transfer_requests.c.requested_at.desc(), transfer_requests.c.id)
                           .limit(limit)).all()
    return [_transfer(row) for row in rows]


def overdue_ids(session: Session, now: datetime, *, limit: int) -> list[uuid.UUID]:
    """Pending requests past their expiry; locked, skipping those another worker holds."""
    query = (select(transfer_requests.c.id)
             .where(transfer_requests.c.status == PENDING, transfer_requests.c.expires_at <= now)
             .order_by(transfer_requests.c.expires_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query).scalars())


# --- notices -------------------------------------------------------------------------------------

def add_notice(session: Session, *, department_id: uuid.UUID, kind: str, transfer_id: uuid.UUID,
               now: datetime) -> None:
    session.execute(insert(notices).values(id=uuid.uuid4(), department_id=department_id, kind=kind,
                                           transfer_id=transfer_id, created_at=now))


def list_notices(session: Session, department_ids: Iterable[uuid.UUID], *, include_dismissed: bool,
                 limit: int = 200) -> list[tuple]:
    """(notice id, department id, kind, created_at, dismissed_at, transfer) newest first."""
    query = (select(notices.c.id.label("notice_id"), notices.c.department_id.label("notice_department"),
                    notices.c.kind, notices.c.created_at.label("notice_created"),
                    notices.c.dismissed_at, *_JOINED.selected_columns)
             .select_from(notices.join(transfer_requests, notices.c.transfer_id == transfer_requests.c.id))
             .join(_from_d, transfer_requests.c.from_department_id == _from_d.c.id)
             .join(_from_h, _from_d.c.hospital_id == _from_h.c.id)
             .join(_to_d, transfer_requests.c.to_department_id == _to_d.c.id)
             .join(_to_h, _to_d.c.hospital_id == _to_h.c.id)
             .where(notices.c.department_id.in_(list(department_ids))))
    if not include_dismissed:
        query = query.where(notices.c.dismissed_at.is_(None))
    rows = session.execute(query.order_by(notices.c.created_at.desc(), notices.c.id).limit(limit)).all()
    return [(row.notice_id, row.notice_department, row.kind, utc(row.notice_created), utc(row.dismissed_at),
             _transfer(row)) for row in rows]


def notice_department(session: Session, notice_id: uuid.UUID) -> tuple[uuid.UUID, datetime | None] | None:
    row = session.execute(select(notices.c.department_id, notices.c.dismissed_at)
                          .where(notices.c.id == notice_id)).first()
    return (row.department_id, utc(row.dismissed_at)) if row else None


def dismiss_notice(session: Session, notice_id: uuid.UUID, *, now: datetime, by: str) -> None:
    session.execute(update(notices).where(and_(notices.c.id == notice_id, notices.c.dismissed_at.is_(None)))
                    .values(dismissed_at=now, dismissed_by=by))

