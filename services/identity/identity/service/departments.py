"""Keeping identity's copy of the organisation in step with the patients service."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from servicekit.events import Envelope
from servicekit.uow import UnitOfWork

from ..adapters import department_repository as repo


def apply_department_upserted(uow: UnitOfWork, event: Envelope) -> None:
    """Store the department unless what we hold is as new or newer (events may arrive out of order)."""
    data = event.data
    department_id = uuid.UUID(data["id"])
    held = repo.get_revision(uow.session, department_id)
    if held is not None and held >= data["revision"]:
        return
    repo.upsert(uow.session, {
        "id": department_id, "code": data["code"], "name": data["name"], "active": data["active"],
        "hospital_id": uuid.UUID(data["hospital"]["id"]), "hospital_code": data["hospital"]["code"],
        "hospital_name": data["hospital"]["name"], "region_code": data["region"]["code"],
        "region_name": data["region"]["name"], "revision": data["revision"],
        "updated_at": datetime.now(timezone.utc),
    }, exists=held is not None)
