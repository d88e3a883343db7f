"""Transfer requests: a department asks to take over a patient registered at another one.

pending → approved (the registration moves) | rejected (with a reason) | cancelled (by the
requesting department) | expired (nobody decided in time). Only a pending request changes.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicekit.errors import Conflict, Forbidden, InvalidInput
from servicekit.principal import Principal

from .cpr import looks_like_cpr
from .patients import DepartmentRef

PENDING, APPROVED, REJECTED, CANCELLED, EXPIRED = "pending", "approved", "rejected", "cancelled", "expired"
STATUSES = (PENDING, APPROVED, REJECTED, CANCELLED, EXPIRED)
REASON_MAX = 500

# In-app notices, one per department that should hear of a step.
NOTICE_REQUESTED = "transfer_requested"   # to the source department
NOTICE_APPROVED = "transfer_approved"     # to the requesting department
NOTICE_REJECTED = "transfer_rejected"     # to the requesting department
NOTICE_CANCELLED = "transfer_cancelled"   # to the source department
NOTICE_EXPIRED = "transfer_expired"       # to both
NOTICE_KINDS = (NOTICE_REQUESTED, NOTICE_APPROVED, NOTICE_REJECTED, NOTICE_CANCELLED, NOTICE_EXPIRED)


@dataclass(frozen=True)
class Transfer:
    id: uuid.UUID
    patient_id: uuid.UUID
    from_department: DepartmentRef
    to_department: DepartmentRef
    status: str
    requested_by: str          # principal subject
    requested_by_name: str     # username
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    decided_by_name: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None

    def overdue(self, now: datetime) -> bool:
        return self.status == PENDING and now >= self.expires_at


def expiry(requested_at: datetime, lifetime: timedelta) -> datetime:
    return requested_at + lifetime


def clean_reason(raw, *, required: bool) -> str | None:
    reason = " ".join(str(raw or "").split()) or None
    if reason is None and required:
        raise InvalidInput("Some fields are missing or invalid.", errors={"reason": ["a reason is required"]},
                           codes={"reason": "reason_required"})
    if reason is not None and len(reason) > REASON_MAX:
        raise InvalidInput("Some fields are missing or invalid.", errors={"reason": [f"at most {REASON_MAX} characters"]},
                           codes={"reason": "too_long"})
    if reason is not None and looks_like_cpr(reason):
        # The reason travels in events, notices and the audit log: never with a CPR number in it.
        raise InvalidInput("Some fields are missing or invalid.", errors={"reason": ["holds a CPR number"]},
                           codes={"reason": "cpr_in_reason"})
    return reason


def require_pending(transfer: Transfer, now: datetime) -> None:
    if transfer.status != PENDING:
        raise Conflict(f"The transfer request is already {transfer.status}.", codes={"transfer": "transfer_closed"})
    if transfer.overdue(now):
        raise Conflict("The transfer request has expired.", codes={"transfer": "transfer_expired"})


def require_decider(principal: Principal, transfer: Transfer) -> None:
    """The source department decides (or a registry administrator)."""
    if principal.registry_admin or transfer.from_department.id in principal.departments:
        return
    raise Forbidden("Only the department the patient is registered at decides on a transfer request.")


def require_requester(principal: Principal, transfer: Transfer) -> None:
    """The requesting department withdraws its own request."""
    if transfer.to_department.id not in principal.departments:
        raise Forbidden("Only the requesting department can cancel a transfer request.")


def visible_to(principal: Principal, transfer: Transfer) -> bool:
    return principal.registry_admin or bool(
        {transfer.from_department.id, transfer.to_department.id} & principal.departments)
