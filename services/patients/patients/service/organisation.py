"""Use cases on the organisation's reference data. Each change of a department emits
``patients.department.upserted`` through the outbox, in the transaction that made it."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from importlib import resources

from servicekit.errors import InvalidInput, NotFound
from servicekit.uow import UnitOfWork

from ..adapters import organisation_repository as repo
from ..domain.organisation import Department, parse_organisation

DEPARTMENT_UPSERTED = "patients.department.upserted"


@dataclass(frozen=True)
class LoadReport:
    created: int
    changed: int
    unchanged: int


def bundled_organisation() -> dict:
    return json.loads(resources.files("patients.reference").joinpath("organisation.json").read_text("utf-8"))


def load_organisation(uow: UnitOfWork, document: dict) -> LoadReport:
    """Upsert regions, hospitals and departments; emit an event for each new or changed department."""
    created = changed = unchanged = 0
    for department in parse_organisation(document):
        current = repo.get_department(uow.session, department.id)
        if current is None:
            _save(uow, department)
            created += 1
        elif department.differs_from(current):
            _save(uow, replace(department, revision=current.revision + 1))
            changed += 1
        else:
            unchanged += 1
    uow.commit()
    return LoadReport(created=created, changed=changed, unchanged=unchanged)


def rename_department(uow: UnitOfWork, department_id: uuid.UUID, name: str) -> Department:
    """Give a department a new name (reference-data maintenance)."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise InvalidInput("A department name has 1 to 200 characters.", errors={"name": ["1-200 characters"]})
    current = repo.get_department(uow.session, department_id)
    if current is None:
        raise NotFound("No such department.")
    if current.name == name:
        return current
    updated = replace(current, name=name, revision=current.revision + 1)
    _save(uow, updated)
    uow.commit()
    return updated


def _save(uow: UnitOfWork, department: Department) -> None:
    repo.save_department(uow.session, department, now=datetime.now(timezone.utc))
    uow.emit(DEPARTMENT_UPSERTED, department.event_data())
