"""identity's copy of who has linked MitID (users.mitid_linked), kept in step with Keycloak.

Keycloak holds the links and answers for them one user at a time, too slowly for a list of users
(issue 10). identity's own linking use cases (service/federation.py) update the copy as they read
or change a link; a link changed past identity (Keycloak's admin console) shows after the worker's
next sweep, which reads every link in a few calls.
"""
from __future__ import annotations

from typing import Callable

from servicekit.uow import UnitOfWork

from ..adapters import user_repository
from ..adapters.keycloak_directory import MITID_PROVIDER


def remember(uow: UnitOfWork, user_id, aliases_linked) -> None:
    """The user's links as just read from (or left in) Keycloak; commit is the caller's."""
    user_repository.set_mitid_linked(uow.session, user_id, MITID_PROVIDER in aliases_linked)


def sweep(new_uow: Callable[[], UnitOfWork], directory) -> int:
    """Copy Keycloak's MitID links to every user; the number of users whose flag changed. Keycloak
    not answering leaves the copy as it was, for the next sweep. (A link changed through identity
    while a sweep runs may be undone by it until the next one: the flag only informs a list.)"""
    linked = directory.mitid_linked_ids()
    with new_uow() as uow:
        changed = user_repository.set_mitid_links(uow.session, linked)
        uow.commit()
    return changed
