"""Use cases that create users: in Keycloak (credentials) and in identity (profile and access).

Keycloak comes first, since it can refuse (a taken username, a password against the policy); then
identity's rows and the access_changed event are committed together. If anything fails after the
Keycloak user was created, that user is deleted again: a failed use case keeps nothing. When that
cannot be done at once (Keycloak stopped mid-call, a crash), keycloak_creations finds the user later.
"""
from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import datetime, timezone
from typing import Iterator

from servicekit.errors import Conflict, InvalidInput, ServiceError
from servicekit.uow import UnitOfWork

from ..adapters import department_repository, user_repository
from ..adapters.keycloak_directory import UserDirectory
from ..domain.users import NewUser, check_departments_in_hospitals
from . import keycloak_creations
from .access import record_access_changed

log = logging.getLogger(__name__)


def provision_user(uow: UnitOfWork, directory: UserDirectory, new_user: NewUser, *, password: str | None,
                   temporary_password: bool = False) -> uuid.UUID:
    """Create a user in Keycloak and identity, with memberships and department access; return the id."""
    user = new_user.validated()
    check_new_user(uow, user)
    keycloak_id = create_keycloak_user(uow, directory, user, password, temporary_password=temporary_password)
    with deleted_from_keycloak_on_failure(directory, keycloak_id):
        user_id = record_new_user(uow, user, keycloak_id)
        uow.commit()
    return user_id


def check_new_user(uow: UnitOfWork, user: NewUser) -> None:
    """Refuse a taken username and department access outside the user's hospitals (before Keycloak is touched)."""
    if user_repository.get_by_username(uow.session, user.username) is not None:
        raise Conflict("A user with this username already exists.", errors={"username": ["already taken"]})
    known = {row.id: row.hospital_id for row in department_repository.by_ids(uow.session, user.departments)}
    check_departments_in_hospitals({d: known.get(d) for d in user.departments}, user.memberships)


def create_keycloak_user(uow: UnitOfWork, directory: UserDirectory, user: NewUser, password: str | None, *,
                         temporary_password: bool = False) -> str:
    """The user in Keycloak, with a password if one is given; return Keycloak's id. The creation is
    recorded first (keycloak_creations), and ``record_new_user`` in the same uow completes it."""
    started = keycloak_creations.begin(uow, user.username)

    def create() -> str:
        return directory.create_user(username=user.username, email=user.email, first_name=user.first_name,
                                     last_name=user.last_name, locale=user.locale)

    try:
        try:
            keycloak_id = create()
        except Conflict:
            if not keycloak_creations.remove_earlier_orphan(uow, directory, user.username, started):
                raise
            keycloak_id = create()  # the name was only held by an earlier creation that never completed
    except (Conflict, InvalidInput):
        keycloak_creations.refused(uow.db, started)  # a clear no: Keycloak made nobody, nothing to settle
        raise
    if password is not None:
        with deleted_from_keycloak_on_failure(directory, keycloak_id):
            directory.set_password(keycloak_id, password, temporary=temporary_password)
    return keycloak_id


def record_new_user(uow: UnitOfWork, user: NewUser, keycloak_id: str) -> uuid.UUID:
    """identity's rows for a (validated, checked) user tied to ``keycloak_id``, and the event; no commit."""
    user_id = uuid.uuid4()
    keycloak_creations.completed(uow, user.username)
    user_repository.insert(uow.session, user_id=user_id, keycloak_id=keycloak_id, username=user.username,
                           first_name=user.first_name, last_name=user.last_name, email=user.email, phone=user.phone,
                           locale=user.locale, registry_admin=user.registry_admin,
                           created_at=datetime.now(timezone.utc))
    for hospital_id, role in sorted(user.memberships.items(), key=lambda item: str(item[0])):
        user_repository.add_membership(uow.session, user_id, hospital_id, role)
    for department_id in sorted(user.departments, key=str):
        user_repository.add_department_access(uow.session, user_id, department_id)
    record_access_changed(uow, user_id=user_id, keycloak_id=keycloak_id, reason="created")
    return user_id


def relink_keycloak_user(uow: UnitOfWork, user_id: uuid.UUID, keycloak_id: str) -> None:
    """Tie an identity user to another Keycloak user (Keycloak's data was reset); no commit.

    Announced under both subjects: a gateway may still hold a principal cached for the old one.
    """
    previous = user_repository.get(uow.session, user_id).keycloak_id
    user_repository.set_keycloak_id(uow.session, user_id, keycloak_id)
    for subject in dict.fromkeys((previous, keycloak_id)):
        record_access_changed(uow, user_id=user_id, keycloak_id=subject, reason="keycloak_relinked")


@contextlib.contextmanager
def deleted_from_keycloak_on_failure(directory: UserDirectory, keycloak_id: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        try:
            directory.delete_user(keycloak_id)
        except ServiceError:
            # The use case still fails; the orphan has no identity user, so nobody can use it.
            log.error("could not delete a half-created Keycloak user", extra={"keycloak_id": keycloak_id})
        raise
