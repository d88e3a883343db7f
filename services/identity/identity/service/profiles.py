"""Who a user is and what they may do: the caller's own profile, and the principal the gateway
resolves for a Keycloak subject."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from servicekit.errors import Forbidden, NotFound
from servicekit.principal import Principal
from servicekit.uow import UnitOfWork

from ..adapters import department_repository, user_repository
from ..domain.users import roles_of, user_principal

GATEWAY_ROLE = "gateway"


def my_profile(uow: UnitOfWork, caller: Principal) -> dict[str, Any]:
    """The calling user's profile, memberships (with hospital and department names) and roles."""
    if caller.kind != "user":
        raise Forbidden("Only a person has a profile.")
    user = user_repository.get(uow.session, caller.user_id)
    if user is None:
        raise NotFound("No such user.")
    memberships = user_repository.memberships_of(uow.session, user.id)
    departments = department_repository.by_ids(uow.session, user_repository.departments_of(uow.session, user.id))
    hospitals = department_repository.hospitals(uow.session, memberships)
    return {
        "id": user.id, "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
        "email": user.email, "phone": user.phone, "locale": user.locale, "registry_admin": user.registry_admin,
        "created_at": user.created_at, "last_login_at": user.last_login_at,
        "roles": roles_of(user.registry_admin, memberships),
        "memberships": [
            {"hospital": {"id": hospital_id, "code": hospitals.get(hospital_id, (None, None))[0],
                          "name": hospitals.get(hospital_id, (None, None))[1]},
             "role": role,
             "departments": sorted(({"id": d.id, "code": d.code, "name": d.name, "active": d.active}
                                    for d in departments if d.hospital_id == hospital_id),
                                   key=lambda d: d["name"])}
            for hospital_id, role in sorted(memberships.items(),
                                            key=lambda item: hospitals.get(item[0], ("", ""))[1] or "")
        ],
    }


def record_login(uow: UnitOfWork, caller: Principal, *, now: datetime | None = None) -> None:
    """The caller just logged in (the web UI says so after each login): their last login, which
    administrators see, and "aldrig logget ind" ends."""
    if caller.kind != "user":
        raise Forbidden("Only a person logs in.")
    user_repository.set_last_login(uow.session, caller.user_id, now or datetime.now(timezone.utc))
    uow.commit()


def principal_for_subject(uow: UnitOfWork, caller: Principal, keycloak_subject: str,
                          machine_clients: Callable[[str], Principal | None] | None = None) -> Principal:
    """The principal of the user Keycloak knows as ``keycloak_subject`` (the gateway's question),
    or of a machine client's service account (``machine_clients``, asked only when no user is)."""
    if caller.kind != "client" or GATEWAY_ROLE not in caller.client_roles:
        raise Forbidden("Only the gateway may resolve principals.")
    user = user_repository.get_by_keycloak_id(uow.session, keycloak_subject)
    if user is None:
        client = machine_clients(keycloak_subject) if machine_clients else None
        if client is not None:
            return client
        raise NotFound("No user is tied to this Keycloak subject.")
    memberships = user_repository.memberships_of(uow.session, user.id)
    departments = department_repository.by_ids(uow.session, user_repository.departments_of(uow.session, user.id))
    return user_principal(user_id=user.id, username=user.username, registry_admin=user.registry_admin,
                          memberships=memberships, department_hospitals={d.id: d.hospital_id for d in departments})
