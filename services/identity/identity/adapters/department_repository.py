"""identity's read model of departments."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .tables import departments


def get_revision(session: Session, department_id: uuid.UUID) -> int | None:
    return session.execute(select(departments.c.revision).where(departments.c.id == department_id)).scalar()


def upsert(session: Session, values: dict, *, exists: bool) -> None:
    if exists:
        session.execute(departments.update().where(departments.c.id == values["id"]).values(**values))
    else:
        session.execute(departments.insert().values(**values))


def list_all(session: Session) -> list:
    return session.execute(select(departments).order_by(departments.c.region_code, departments.c.hospital_name,
                                                       departments.c.name)).all()


def get_by_code(session: Session, code: str):
    return session.execute(select(departments).where(departments.c.code == code)).one_or_none()


def by_ids(session: Session, department_ids) -> list:
    ids = list(department_ids)
    if not ids:
        return []
    return session.execute(select(departments).where(departments.c.id.in_(ids))).all()


def hospitals(session: Session, hospital_ids) -> dict:
    """hospital id -> (code, name), from any department of the hospital that identity holds."""
    ids = list(hospital_ids)
    if not ids:
        return {}
    rows = session.execute(select(departments.c.hospital_id, departments.c.hospital_code, departments.c.hospital_name)
                           .where(departments.c.hospital_id.in_(ids)).distinct())
    return {row.hospital_id: (row.hospital_code, row.hospital_name) for row in rows}
