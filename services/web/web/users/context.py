"""What every user administration page needs: the signed-in administrator and the hospital the
page is about, which must be one they administer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from flask import abort, g

from ..profile import Profile, current_profile
from ..views import NotAnAdministrator
from . import client


@dataclass(frozen=True)
class Hospital:
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def name(self) -> str:
        return self.data.get("name") or self.data.get("code") or self.id

    @property
    def departments(self) -> list[dict[str, Any]]:
        return list(self.data.get("departments") or [])

    @property
    def active_departments(self) -> list[dict[str, Any]]:
        return [department for department in self.departments if department.get("active", True)]

    @property
    def review(self) -> dict[str, Any]:
        return self.data.get("review") or {}


def administrator() -> Profile:
    profile = current_profile()
    if not profile.is_administrator:
        raise NotAnAdministrator()
    return profile


def administered_hospitals() -> list[Hospital]:
    """Fetched once per request. A registry administrator gets them all, a local one their own."""
    administrator()
    if "administered_hospitals" not in g:
        g.administered_hospitals = [Hospital(data) for data in client.hospitals()]
    return g.administered_hospitals


def hospital(hospital_id: UUID) -> Hospital:
    """The hospital of this page; 403 when the caller does not administer it (identity would
    refuse the calls anyway: this only gives a clear page before any of them)."""
    for candidate in administered_hospitals():
        if candidate.id == str(hospital_id):
            return candidate
    abort(403)


def page_context(current: Hospital, **extra) -> dict[str, Any]:
    return {"profile": administrator(), "hospital": current, "hospitals": administered_hospitals(), **extra}
