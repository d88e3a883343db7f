"""Reads and writes of regions, hospitals and departments."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.organisation import Department, Hospital, Region
from .tables import departments, hospitals, regions

_JOINED = (select(departments, hospitals.c.code.label("h_code"), hospitals.c.name.label("h_name"),
                  regions.c.code.label("r_code"), regions.c.name.label("r_name"))
           .join(hospitals, departments.c.hospital_id == hospitals.c.id)
           .join(regions, hospitals.c.region_code == regions.c.code))


def _department(row) -> Department:
    region = Region(code=row.r_code, name=row.r_name)
    hospital = Hospital(id=row.hospital_id, code=row.h_code, name=row.h_name, region=region)
    return Department(id=row.id, code=row.code, name=row.name, hospital=hospital, active=row.active,
                      revision=row.revision)


def get_department(session: Session, department_id: uuid.UUID) -> Department | None:
    row = session.execute(_JOINED.where(departments.c.id == department_id)).first()
    return _department(row) if row else None


def list_departments(session: Session) -> list[Department]:
    rows = session.execute(_JOINED.order_by(regions.c.code, hospitals.c.name, departments.c.name)).all()
    return [_department(row) for row in rows]


def list_regions(session: Session) -> list[Region]:
    return [Region(code=r.code, name=r.name) for r in session.execute(select(regions).order_by(regions.c.code))]


def save_department(session: Session, department: Department, *, now: datetime) -> None:
    """Insert or update the department and the region and hospital it belongs to."""
    hospital, region = department.hospital, department.hospital.region
    _upsert(session, regions, {"code": region.code}, {"name": region.name})
    _upsert(session, hospitals, {"id": hospital.id}, {"code": hospital.code, "name": hospital.name,
                                                      "region_code": region.code})
    _upsert(session, departments, {"id": department.id}, {
        "code": department.code, "name": department.name, "hospital_id": hospital.id,
        "active": department.active, "revision": department.revision, "updated_at": now})


def _upsert(session: Session, table, key: dict, values: dict) -> None:
    condition = [table.c[name] == value for name, value in key.items()]
    if session.execute(select(*[table.c[name] for name in key]).where(*condition)).first():
        session.execute(table.update().where(*condition).values(**values))
    else:
        session.execute(table.insert().values(**key, **values))
