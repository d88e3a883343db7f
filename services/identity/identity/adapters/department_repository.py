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
