"""The patients API, called through the gateway as the signed-in user. One function per call;
paths are built from UUIDs only, and every CPR goes in a JSON body."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from ..api import api

BASE = "/api/patients"


def my_departments() -> list[dict[str, Any]]:
    """The caller's own departments, active ones first, by name."""
    found = api("GET", f"{BASE}/departments", params={"mine": "true"}) or []
    return sorted(found, key=lambda d: (not d.get("active", True), d["hospital"]["name"], d["name"]))


def lookup(cpr: str) -> dict[str, Any]:
    return api("POST", f"{BASE}/patients/lookup", json={"cpr": cpr})


def create_patient(*, cpr: str, name: str, diagnosis_group: str, department_id: str) -> dict[str, Any]:
    return api("POST", f"{BASE}/patients", json={"cpr": cpr, "name": name, "diagnosis_group": diagnosis_group,
                                                  "department_id": department_id})


def patient(patient_id: UUID) -> dict[str, Any]:
    return api("GET", f"{BASE}/patients/{patient_id}")


def platform_status(patient_id: UUID) -> dict[str, Any]:
    return api("GET", f"{BASE}/patients/{patient_id}/platform-status")


def search(*, cpr: str | None = None, name: str | None = None, department_id: str | None = None) -> list[dict]:
    body: dict[str, Any] = {"cpr": cpr} if cpr is not None else {"name": name}
    if department_id:
        body["department_id"] = department_id
    return api("POST", f"{BASE}/patients/search", json=body) or []


def board(department_id: UUID) -> dict[str, Any]:
    return api("GET", f"{BASE}/departments/{department_id}/board")


def department_patients(department_id: UUID, *, platform_status: str | None, limit: int, offset: int) -> dict:
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if platform_status:
        params["platform_status"] = platform_status
    return api("GET", f"{BASE}/departments/{department_id}/patients", params=params)


def request_transfers(*, cpr: str, from_department_ids: list[str], to_department_id: str) -> list[dict]:
    return api("POST", f"{BASE}/transfers", json={"cpr": cpr, "from_department_ids": from_department_ids,
                                                   "to_department_id": to_department_id}) or []


def incoming(status: str | None = None) -> list[dict]:
    return api("GET", f"{BASE}/transfers/incoming", params={"status": status} if status else None) or []


def outgoing(status: str | None = None) -> list[dict]:
    return api("GET", f"{BASE}/transfers/outgoing", params={"status": status} if status else None) or []


def decide(transfer_id: UUID, verdict: str, *, reason: str | None = None) -> dict[str, Any]:
    """verdict: approve or reject."""
    body = {"reason": reason} if reason else {}
    return api("POST", f"{BASE}/transfers/{transfer_id}/{verdict}", json=body)


def cancel(transfer_id: UUID) -> dict[str, Any]:
    return api("POST", f"{BASE}/transfers/{transfer_id}/cancel", json={})


def notices(*, include_dismissed: bool = False) -> list[dict]:
    return api("GET", f"{BASE}/notices", params={"include_dismissed": "true" if include_dismissed else "false"}) or []


def dismiss_notice(notice_id: UUID) -> None:
    api("POST", f"{BASE}/notices/{notice_id}/dismiss", json={})


def audit(patient_id: UUID, *, limit: int, offset: int) -> list[dict]:
    """Who accessed the patient (registry administrators only)."""
    return api("GET", f"{BASE}/patients/{patient_id}/audit", params={"limit": limit, "offset": offset}) or []
