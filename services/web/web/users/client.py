"""identity's user administration API (docs: docs/user-administration-api.md), called through
the gateway as the signed-in administrator. One function per call; paths built from UUIDs only."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from ..api import api

BASE = "/api/identity/admin"


def hospitals() -> list[dict[str, Any]]:
    """The hospitals the caller administers (all of them for a registry administrator)."""
    return api("GET", f"{BASE}/hospitals") or []


def users(hospital_id: UUID, *, department: str | None, status: str | None, q: str | None, page: int,
          per_page: int, review: str | None = None) -> dict[str, Any]:
    params = {"department": department, "status": status, "review": review, "q": q, "page": page,
              "per_page": per_page}
    return api("GET", f"{BASE}/hospitals/{hospital_id}/users",
               params={key: value for key, value in params.items() if value not in (None, "")})


def create_user(hospital_id: UUID, body: dict[str, Any]) -> dict[str, Any]:
    return api("POST", f"{BASE}/hospitals/{hospital_id}/users", json=body)


def user(hospital_id: UUID, user_id: UUID) -> dict[str, Any]:
    return api("GET", f"{BASE}/hospitals/{hospital_id}/users/{user_id}")


def change_access(hospital_id: UUID, user_id: UUID, *, role: str, departments: list[str],
                  version: str | None = None) -> dict[str, Any]:
    """``version``: UserDetail.version the form showed; identity refuses (409) if the access changed since."""
    body = {"role": role, "departments": departments}
    if version:
        body["version"] = version
    return api("PUT", f"{BASE}/hospitals/{hospital_id}/users/{user_id}/access", json=body)


def change_phone(hospital_id: UUID, user_id: UUID, phone: str) -> dict[str, Any]:
    return api("PUT", f"{BASE}/hospitals/{hospital_id}/users/{user_id}/phone", json={"phone": phone})


def search_all(q: str) -> dict[str, Any]:
    return api("GET", f"{BASE}/users/search", params={"q": q})


def add_to_hospital(hospital_id: UUID, user_id: UUID, *, role: str, departments: list[str]) -> dict[str, Any]:
    return api("POST", f"{BASE}/hospitals/{hospital_id}/users/{user_id}/membership",
               json={"role": role, "departments": departments})


def reviews(hospital_id: UUID) -> dict[str, Any]:
    return api("GET", f"{BASE}/hospitals/{hospital_id}/reviews")


def document_review(hospital_id: UUID) -> dict[str, Any]:
    return api("POST", f"{BASE}/hospitals/{hospital_id}/reviews", json={})


def blocked_users(hospital_id: UUID) -> list[dict[str, Any]]:
    return api("GET", f"{BASE}/hospitals/{hospital_id}/blocked-users") or []


def unlock(hospital_id: UUID, user_id: UUID) -> None:
    api("POST", f"{BASE}/hospitals/{hospital_id}/users/{user_id}/unlock", json={})
