"""Blocked users and "Nulstil kode" (issue 5, A5).

Keycloak keeps the brute-force lock. Unlocking clears it there first (Keycloak down: 503, nothing
changed), then issues a single-use set-password token (purpose "reset", 72 hours) and emits
``identity.password_reset.link_issued`` with the token sealed: notifications e-mails the link and
texts the phone that a link was e-mailed. The administrator never sees or sets the password.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from servicekit.errors import DependencyUnavailable
from servicekit.principal import Principal
from servicekit.sealed import Sealer
from servicekit.uow import UnitOfWork

from ..adapters import admin_repository as admin_repo
from ..adapters.keycloak_directory import UserDirectory
from . import set_password_tokens
from .access import record_access_changed
from .admin_access import actor, require_hospital, require_member
from .user_admin import user_rows

LINK_ISSUED = "identity.password_reset.link_issued"
RESET_LINK_TTL = timedelta(hours=72)


def blocked_users(uow: UnitOfWork, directory: UserDirectory, caller: Principal,
                  hospital_id: uuid.UUID) -> list[dict[str, Any]]:
    """The hospital's users Keycloak has locked out (temporarily or permanently), as UserRows."""
    require_hospital(uow, caller, hospital_id)
    members = admin_repo.hospital_users(uow.session, hospital_id)
    locked = directory.locked_users([row.keycloak_id for row in members])
    return user_rows(uow, directory, hospital_id, [row for row in members if row.keycloak_id in locked],
                     locked=locked)


def unlock(uow: UnitOfWork, directory: UserDirectory, sealer: Sealer | None, caller: Principal,
           hospital_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Clear the user's lock in Keycloak and send them a link to choose a new password."""
    hospital_name = require_hospital(uow, caller, hospital_id)
    member = require_member(uow, hospital_id, user_id)
    if sealer is None:
        raise DependencyUnavailable("identity has no sealing key (DANBIO_SEALING_KEY) for the reset link; "
                                    "nothing was changed.")
    status = directory.brute_force_status(member.keycloak_id)
    directory.clear_brute_force(member.keycloak_id)
    # Clearing twice is harmless: if this transaction fails, the lock is gone but no link is out,
    # and the administrator can simply press the button again.
    token = set_password_tokens.issue(uow.session, user_id, set_password_tokens.RESET, RESET_LINK_TTL)
    actor_id, actor_name = actor(uow, caller)
    uow.emit(LINK_ISSUED, {
        "user": {"user_id": str(member.id), "name": f"{member.first_name} {member.last_name}", "email": member.email,
                 "phone": member.phone, "locale": member.locale},
        "set_password_token": sealer.seal(token.token), "expires_at": token.expires_at.isoformat(),
        "issued_by": actor_name})
    record_access_changed(uow, user_id=user_id, keycloak_id=member.keycloak_id, reason="unlocked")
    admin_repo.append_audit(uow.session, at=datetime.now(timezone.utc), actor_id=actor_id, actor_name=actor_name,
                            action="unlocked", user_id=user_id, hospital_id=hospital_id, hospital_name=hospital_name,
                            before={"blocked": status.locked, "permanent": status.permanent,
                                    "failures": status.failures},
                            after={"blocked": False, "reset_link_expires_at": token.expires_at.isoformat()})
    uow.commit()
