"""The caller changes their own profile (B1: "Ret mine oplysninger" → "Gem ændringer").

Names and e-mail are kept in step in Keycloak (which shows them and sends from them); the phone
is identity's alone (E.164, it receives reset codes). A changed phone or e-mail is announced with
``identity.user.contact_changed``, and notifications tells the previous phone/address: if someone
else changed them to steal password resets, the owner hears of it where they still are.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from servicekit.errors import Conflict, Forbidden, InvalidInput, NotFound
from servicekit.principal import Principal
from servicekit.uow import UnitOfWork

from ..adapters import admin_repository, user_repository
from ..adapters.keycloak_directory import KeycloakUserDirectory
from ..adapters.tables import users
from ..domain.phone import InvalidPhone, normalise_phone
from ..domain.users import EMAIL_ADDRESS
from .people import person_of
from .profiles import my_profile

CONTACT_CHANGED = "identity.user.contact_changed"
_EMAIL = EMAIL_ADDRESS  # one rule for every form (domain/users.py)


def _validated(first_name: str, last_name: str, email: str, phone: str | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    codes: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field, raw in (("first_name", first_name), ("last_name", last_name)):
        value = (raw or "").strip()
        if not value:
            errors[field], codes[field] = ["required"], "required"
        elif len(value) > 100:
            errors[field], codes[field] = ["at most 100 characters"], "too_long"
        values[field] = value
    values["email"] = (email or "").strip()
    if not values["email"]:
        errors["email"], codes["email"] = ["required"], "required"
    elif len(values["email"]) > 254 or not _EMAIL.match(values["email"]):
        errors["email"], codes["email"] = ["an e-mail address"], "invalid_email"
    try:
        values["phone"] = normalise_phone(phone)
    except InvalidPhone as exc:
        errors.update(exc.errors)
        codes.update(exc.codes)
    if errors:
        raise InvalidInput("Some fields are missing or invalid.", errors=errors, codes=codes)
    return values


def update_my_profile(uow: UnitOfWork, directory: KeycloakUserDirectory, caller: Principal, *, first_name: str,
                      last_name: str, email: str, phone: str | None, now: datetime | None = None) -> dict[str, Any]:
    """Save the caller's names, e-mail and phone; return the profile as GET /me shows it.

    Concurrent saves (two tabs, a double click) are serialised, and the last one wins: the profile
    has one writer, its owner, and each save is the whole form they see. The row lock is taken
    before reading, so "previous" in each notice is what the save before it left, and Keycloak is
    updated in the same order as the rows (a stale read could skip the Keycloak update and leave
    it disagreeing with identity)."""
    if caller.kind != "user":
        raise Forbidden("Only a person has a profile.")
    values = _validated(first_name, last_name, email, phone)
    admin_repository.lock_user(uow.session, caller.user_id)
    user = user_repository.get(uow.session, caller.user_id)
    if user is None:
        raise NotFound("No such user.")
    uow.session.execute(users.update().where(users.c.id == user.id).values(**values))
    changed = [field for field in ("phone", "email") if getattr(user, field) != values[field]]
    if changed:
        updated = user_repository.get(uow.session, user.id)
        uow.emit(CONTACT_CHANGED, {
            "user": person_of(updated), "changed": changed, "previous_phone": user.phone,
            "previous_email": user.email, "changed_at": (now or datetime.now(timezone.utc)).isoformat()})
    if (user.first_name, user.last_name, user.email) != (values["first_name"], values["last_name"], values["email"]):
        try:
            directory.update_profile(user.keycloak_id, first_name=values["first_name"],
                                     last_name=values["last_name"], email=values["email"])
        except Conflict:
            raise Conflict("Another user has this e-mail address.", errors={"email": ["taken"]},
                           codes={"email": "email_taken"}) from None
    uow.commit()
    return my_profile(uow, caller)
