"""Who may administer which hospital's users (issue 5), and how administrators appear in records.

A registry administrator acts on every hospital; a local administrator only on the hospitals
where they hold that role; nobody else on any. An unknown hospital is 404, a hospital the caller
may not administer 403; a user who is not a member of the hospital acted on is 404, the same
answer as an unknown id, so another hospital's users cannot be probed.
"""
from __future__ import annotations

import uuid

from servicekit.errors import Forbidden, NotFound
from servicekit.principal import Principal
from servicekit.uow import UnitOfWork

from ..adapters import admin_repository as admin_repo
from ..adapters import department_repository, user_repository


def require_administrator(caller: Principal) -> None:
    """Registry administrators and local administrators (of any hospital) only."""
    if caller.kind != "user" or not (caller.registry_admin or caller.administered_hospitals):
        raise Forbidden("Only user administrators may do this.")


def require_hospital(uow: UnitOfWork, caller: Principal, hospital_id: uuid.UUID) -> str:
    """The hospital's name, if the caller may administer its users."""
    require_administrator(caller)
    if not caller.administers(hospital_id):
        raise Forbidden("You may administer the users of your own hospital only.")
    known = department_repository.hospitals(uow.session, [hospital_id])
    if hospital_id not in known:
        raise NotFound("No such hospital.")
    return known[hospital_id][1]


def require_member(uow: UnitOfWork, hospital_id: uuid.UUID, user_id: uuid.UUID):
    row = admin_repo.hospital_user(uow.session, hospital_id, user_id)
    if row is None:
        raise NotFound("No such user at this hospital.")
    return row


def actor(uow: UnitOfWork, caller: Principal) -> tuple[uuid.UUID | None, str]:
    """(user id, name) of the administrator, as the audit and messages show them."""
    try:
        user = user_repository.get(uow.session, caller.user_id)
    except ValueError:
        user = None
    if user is None:
        return None, caller.username
    return user.id, f"{user.first_name} {user.last_name}"
