"""Events as identity (and patients) will emit them: valid against their contracts, secrets sealed."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from servicekit.sealed import Sealer

HOSPITAL = {"id": str(uuid.uuid4()), "name": "Aarhus Universitetshospital, Skejby"}


def _at(minutes: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


def person(name="Søren Ærø Åberg", email="soeren.aaberg@example.org", phone=None, locale="da") -> dict:
    return {"user_id": str(uuid.uuid4()), "name": name, "email": email, "phone": phone, "locale": locale}


def user_created(sealer: Sealer, token: str, *, user=None, expires_in_minutes=72 * 60) -> dict:
    return {"user": user or person(), "username": "soeren.aaberg", "hospital": HOSPITAL,
            "departments": [{"id": str(uuid.uuid4()), "name": "Reumatologisk Ambulatorium, Østfløjen"}],
            "created_by": "Birthe Ødegård", "set_password_token": sealer.seal(token),
            "set_password_expires_at": _at(expires_in_minutes)}


def reset_code_issued(sealer: Sealer, code: str, *, user=None, expires_in_minutes=10) -> dict:
    return {"user": user or person(phone="+4512345678"), "reset_id": str(uuid.uuid4()), "code": sealer.seal(code),
            "expires_at": _at(expires_in_minutes)}


def added_to_hospital(user: dict) -> dict:
    return {"user": user, "hospital": HOSPITAL, "added_by": "Birthe Ødegård",
            "departments": [{"id": str(uuid.uuid4()), "name": "Reumatologisk Ambulatorium, Østfløjen"},
                            {"id": str(uuid.uuid4()), "name": "Dagafsnit Ø"}]}


def access_removed(user: dict) -> dict:
    return {"user": user, "hospital": HOSPITAL, "removed_at": _at(),
            "departments": [{"id": str(uuid.uuid4()), "name": "Reumatologisk Sengeafsnit"}]}


def review_overdue(admins: list[dict]) -> dict:
    return {"hospital": HOSPITAL, "last_review_at": _at(-100 * 24 * 60), "overdue_since": _at(-10 * 24 * 60),
            "administrators": admins}


def transfer_decided(requester: dict) -> dict:
    department = {"id": str(uuid.uuid4()), "name": "Reumatologi", "hospital_name": "Odense Universitetshospital"}
    return {"transfer_id": str(uuid.uuid4()), "decision": "approved", "reason": None, "from_department": department,
            "to_department": {**department, "id": str(uuid.uuid4()), "name": "Medicinsk Afdeling, Ærøskøbing"},
            "decided_at": _at(), "requested_by": requester}
