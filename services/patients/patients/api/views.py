"""Domain objects as the dicts the response schemas dump."""
from __future__ import annotations

from ..domain.patients import Board, DepartmentRef, Patient, PatientSummary
from ..service.notices import Notice
from ..service.transfers import TransferView


def department(ref: DepartmentRef) -> dict:
    return {"id": ref.id, "name": ref.name, "hospital_name": ref.hospital_name}


def patient(page: Patient) -> dict:
    return {"id": page.id, "cpr": page.cpr, "cpr_masked": page.cpr_masked, "name": page.name,
            "diagnosis_group": page.diagnosis_group, "created_at": page.created_at,
            "platform_status": page.platform_status,
            "registrations": [{"department": department(r.department), "active": r.active,
                               "registered_at": r.registered_at, "ended_at": r.ended_at,
                               "ended_reason": r.ended_reason, "transfer_id": r.transfer_id}
                              for r in page.registrations]}


def summary(item: PatientSummary) -> dict:
    return {"id": item.id, "cpr_masked": item.cpr_masked, "name": item.name, "diagnosis_group": item.diagnosis_group,
            "platform_status": item.platform_status, "departments": [department(d) for d in item.departments]}


def board(value: Board) -> dict:
    return {"department": department(value.department), "total": value.total, "by_diagnosis": value.by_diagnosis,
            "by_platform_status": value.by_platform_status,
            "cells": [{"diagnosis_group": g, "platform_status": s, "count": n} for g, s, n in value.cells]}


def transfer(view: TransferView) -> dict:
    t = view.transfer
    return {"id": t.id, "status": t.status, "cpr_masked": view.cpr_masked, "patient_name": view.patient_name,
            "patient_id": t.patient_id if view.patient_name is not None else None,
            "from_department": department(t.from_department), "to_department": department(t.to_department),
            "requested_by": {"subject": t.requested_by, "username": t.requested_by_name},
            "requested_at": t.requested_at, "expires_at": t.expires_at,
            "decided_by": {"subject": t.decided_by, "username": t.decided_by_name} if t.decided_by else None,
            "decided_at": t.decided_at, "reason": t.reason}


def notice(value: Notice) -> dict:
    t = value.transfer
    return {"id": value.id, "kind": value.kind, "department": department(value.department),
            "created_at": value.created_at, "dismissed_at": value.dismissed_at,
            "transfer": {"id": t.id, "status": t.status, "cpr_masked": value.cpr_masked,
                         "from_department": department(t.from_department),
                         "to_department": department(t.to_department), "reason": t.reason}}
