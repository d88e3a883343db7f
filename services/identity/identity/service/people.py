"""A user as the messages about them need them (servicekit.contracts.Person)."""
from __future__ import annotations

from typing import Any


def person_of(user) -> dict[str, Any]:
    """``user`` is a row of identity's users table."""
    name = f"{user.first_name} {user.last_name}".strip() or user.username
    return {"user_id": str(user.id), "name": name, "email": user.email, "phone": user.phone, "locale": user.locale}
