"""Patients and their department registrations: the rules, without I/O."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from servicekit.errors import InvalidInput

from .cpr import looks_like_cpr

# The registry's diagnosis groups: rheumatoid arthritis, psoriatic arthritis, axial
# spondyloarthritis, and everything else.
DIAGNOSIS_GROUPS = ("RA", "PsA", "axSpA", "other")

NAME_MAX = 200
NAME_SEARCH_MIN = 2


def clean_name(raw) -> str:
    name = " ".join(str(raw or "").split())
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput("Some fields are missing or invalid.", errors={"name": [f"1-{NAME_MAX} characters"]},
                           codes={"name": "name_length"})
    if looks_like_cpr(name):
        # A CPR typed into the name field would be stored, shown and listed in the clear.
        raise InvalidInput("Some fields are missing or invalid.", errors={"name": ["holds a CPR number"]},
                           codes={"name": "cpr_in_name"})
    return name


def check_diagnosis_group(value) -> str:
    if value not in DIAGNOSIS_GROUPS:
        raise InvalidInput("Some fields are missing or invalid.",
                           errors={"diagnosis_group": [f"one of {', '.join(DIAGNOSIS_GROUPS)}"]},
                           codes={"diagnosis_group": "invalid_choice"})
    return value


def name_search_term(raw) -> str:
    """A partial name to search for, as a LIKE pattern with its wildcards escaped."""
    term = " ".join(str(raw or "").split()).lower()
    if len(term) < NAME_SEARCH_MIN:
        raise InvalidInput("Some fields are missing or invalid.",
                           errors={"name": [f"at least {NAME_SEARCH_MIN} characters"]},
                           codes={"name": "name_too_short"})
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class DepartmentRef:
    id: uuid.UUID
    name: str
    hospital_name: str
    active: bool = True

    def event_data(self) -> dict:
        return {"id": str(self.id), "name": self.name, "hospital_name": self.hospital_name}


@dataclass(frozen=True)
class Registration:
    department: DepartmentRef
    registered_at: datetime
    ended_at: datetime | None = None
    ended_reason: str | None = None   # "transferred"
    transfer_id: uuid.UUID | None = None

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True)
class PlatformStatus:
    status: str           # "active" | "inactive"
    reported_at: datetime  # the platform's own timestamp


@dataclass(frozen=True)
class Patient:
    id: uuid.UUID
    cpr_masked: str
    name: str
    diagnosis_group: str
    created_at: datetime
    registrations: tuple[Registration, ...] = ()
    platform_status: PlatformStatus | None = None
    cpr: str | None = None   # the full number: only where a clinician needs it (the patient page)

    @property
    def active_departments(self) -> frozenset[uuid.UUID]:
        return frozenset(r.department.id for r in self.registrations if r.active)


@dataclass(frozen=True)
class PatientSummary:
    """A patient in a list: the CPR masked, the departments the viewer shares with the patient."""

    id: uuid.UUID
    cpr_masked: str
    name: str
    diagnosis_group: str
    platform_status: PlatformStatus | None
    departments: tuple[DepartmentRef, ...] = ()


@dataclass(frozen=True)
class Board:
    """A department's patients counted by diagnosis group and platform status ("Patienttavle")."""

    department: DepartmentRef
    total: int
    by_diagnosis: dict[str, int]
    by_platform_status: dict[str, int]          # active, inactive, unknown (never reported)
    cells: tuple[tuple[str, str, int], ...]     # (diagnosis group, platform status, patients)


UNKNOWN_STATUS = "unknown"


def board(department: DepartmentRef, counts: list[tuple[str, str | None, int]]) -> Board:
    by_diagnosis = {group: 0 for group in DIAGNOSIS_GROUPS}
    by_status = {"active": 0, "inactive": 0, UNKNOWN_STATUS: 0}
    cells = []
    for group, status, count in counts:
        status = status or UNKNOWN_STATUS
        by_diagnosis[group] += count
        by_status[status] += count
        cells.append((group, status, count))
    cells.sort(key=lambda cell: (DIAGNOSIS_GROUPS.index(cell[0]), cell[1]))
    return Board(department=department, total=sum(by_diagnosis.values()), by_diagnosis=by_diagnosis,
                 by_platform_status=by_status, cells=tuple(cells))
