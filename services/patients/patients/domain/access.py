"""Who may do what with patients, decided from the gateway-signed principal (no I/O).

A user works with the patients registered at the departments they have access to; a registry
administrator may read any patient, decide any transfer and read the audit trail. The patient
platform (a machine client) only reports platform status.
"""
from __future__ import annotations

import uuid
from typing import Iterable

from servicekit.errors import Forbidden, NotFound
from servicekit.principal import PLATFORM, Principal

NOT_YOURS = "No such patient at your departments."


def require_user(principal: Principal) -> None:
    if principal.kind != "user":
        raise Forbidden("Only people work with patients; machine clients report platform status only.")


def require_platform(principal: Principal) -> None:
    if principal.kind != "client" or PLATFORM not in principal.client_roles:
        raise Forbidden("Only the patient platform reports platform status.")


def require_department(principal: Principal, department_id: uuid.UUID, *, field: str = "department_id") -> None:
    """The user has access to this department (a registry administrator has access to all)."""
    if principal.registry_admin or department_id in principal.departments:
        return
    raise Forbidden("You have no access to this department.", errors={field: ["not one of your departments"]},
                    codes={field: "not_your_department"})


def require_own_department(principal: Principal, department_id: uuid.UUID, *, field: str = "department_id") -> None:
    """The department is one of the user's own: where patients are created and transfers requested to."""
    if department_id not in principal.departments:
        raise Forbidden("You have no access to this department.", errors={field: ["not one of your departments"]},
                        codes={field: "not_your_department"})


def can_read(principal: Principal, registered_at: Iterable[uuid.UUID]) -> bool:
    return principal.registry_admin or bool(principal.departments & frozenset(registered_at))


def require_read(principal: Principal, registered_at: Iterable[uuid.UUID]) -> None:
    """404, not 403: an opaque id of someone else's patient reveals nothing."""
    if not can_read(principal, registered_at):
        raise NotFound(NOT_YOURS)


def require_change(principal: Principal, registered_at: Iterable[uuid.UUID]) -> None:
    """Changing a patient needs a registration at one of the user's own departments."""
    if not principal.departments & frozenset(registered_at):
        if principal.registry_admin:
            raise Forbidden("Patients are changed by the departments they are registered at.")
        raise NotFound(NOT_YOURS)
