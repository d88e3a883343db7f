"""Regions, hospitals and departments: the registry's organisation (reference data)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

# Fixed namespace: the same code gives the same id in every environment.
_NAMESPACE = uuid.UUID("5b0f6f3e-6a7c-4a53-9d0e-2f2c6c4a9b11")


def hospital_id(code: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"hospital:{code}")


def department_id(code: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"department:{code}")


@dataclass(frozen=True)
class Region:
    code: str
    name: str


@dataclass(frozen=True)
class Hospital:
    id: uuid.UUID
    code: str
    name: str
    region: Region


@dataclass(frozen=True)
class Department:
    id: uuid.UUID
    code: str
    name: str
    hospital: Hospital
    active: bool = True
    revision: int = 1

    def differs_from(self, other: "Department") -> bool:
        """True when a consumer's copy of ``other`` would be out of date."""
        return (self.name, self.active, self.hospital.id) != (other.name, other.active, other.hospital.id)

    def event_data(self) -> dict:
        return {
            "id": str(self.id), "code": self.code, "name": self.name, "active": self.active,
            "revision": self.revision,
            "hospital": {"id": str(self.hospital.id), "code": self.hospital.code, "name": self.hospital.name},
            "region": {"code": self.hospital.region.code, "name": self.hospital.region.name},
        }


def parse_organisation(document: dict) -> list[Department]:
    """The reference-data document (regions → hospitals → departments) as departments."""
    result = []
    for region_doc in document["regions"]:
        region = Region(code=region_doc["code"], name=region_doc["name"])
        for hospital_doc in region_doc["hospitals"]:
            hospital = Hospital(id=hospital_id(hospital_doc["code"]), code=hospital_doc["code"],
                                name=hospital_doc["name"], region=region)
            for department_doc in hospital_doc["departments"]:
                result.append(Department(id=department_id(department_doc["code"]), code=department_doc["code"],
                                         name=department_doc["name"], hospital=hospital,
                                         active=department_doc.get("active", True)))
    codes = [department.code for department in result]
    if len(codes) != len(set(codes)):
        raise ValueError("department codes must be unique")
    return result
