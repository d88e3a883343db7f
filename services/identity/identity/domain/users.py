"""Users, their hospital memberships and department access: the rules, without I/O."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from servicekit.errors import InvalidInput
from servicekit.principal import CLINICIAN, LOCAL_ADMIN, REGISTRY_ADMIN, SECRETARY, Membership, Principal

HOSPITAL_ROLES = (LOCAL_ADMIN, CLINICIAN, SECRETARY)
LOCALES = ("da", "en")

# Keycloak's service-account users are named so; identity tells machine clients by it.
RESERVED_USERNAME_PREFIX = "service-account-"
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# What the forms (user_admin, profile_changes) accept: printable ASCII only (issue 10, abuse suite).
# An address with æ, ø or å was accepted, and its welcome mail then failed 8 times with
# UnicodeEncodeError (our SMTP sending has no SMTPUTF8): the user could never activate. Refused at
# the door, it gets a Danish message instead. (Addresses already stored stay valid here.)
_ADDRESS_CHAR = r"[\x21-\x3f\x41-\x7e]"  # no space, no @, nothing beyond ASCII
EMAIL_ADDRESS = re.compile(rf"^{_ADDRESS_CHAR}+@{_ADDRESS_CHAR}+\.{_ADDRESS_CHAR}+$")


def normalise_username(raw: str) -> str:
    """Usernames compare without case, as Keycloak keeps them: in lower case."""
    return (raw or "").strip().lower()


@dataclass(frozen=True)
class NewUser:
    username: str
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    locale: str = "da"
    registry_admin: bool = False
    # hospital id -> role
    memberships: dict[uuid.UUID, str] = field(default_factory=dict)
    departments: frozenset[uuid.UUID] = frozenset()

    def validated(self) -> "NewUser":
        """This user with normalised fields, or InvalidInput naming every bad field."""
        errors: dict[str, list[str]] = {}
        username = normalise_username(self.username)
        if not _USERNAME.match(username):
            errors["username"] = ["2-64 characters: letters a-z, digits, '.', '_' or '-', starting with a letter or digit"]
        elif username.startswith(RESERVED_USERNAME_PREFIX):
            errors["username"] = [f"usernames starting with '{RESERVED_USERNAME_PREFIX}' belong to machine clients"]
        first_name, last_name = self.first_name.strip(), self.last_name.strip()
        if not 1 <= len(first_name) <= 100:
            errors["first_name"] = ["1-100 characters"]
        if not 1 <= len(last_name) <= 100:
            errors["last_name"] = ["1-100 characters"]
        email = self.email.strip()
        if len(email) > 254 or not _EMAIL.match(email):
            errors["email"] = ["an e-mail address"]
        phone = (self.phone or "").replace(" ", "") or None
        if phone is not None and not _E164.match(phone):
            errors["phone"] = ["a phone number in international form, e.g. +4512345678"]
        if self.locale not in LOCALES:
            errors["locale"] = [f"one of {', '.join(LOCALES)}"]
        bad_roles = sorted({role for role in self.memberships.values() if role not in HOSPITAL_ROLES})
        if bad_roles:
            errors["memberships"] = [f"unknown role(s) {', '.join(bad_roles)}; expected one of {', '.join(HOSPITAL_ROLES)}"]
        if errors:
            raise InvalidInput("Some fields are missing or invalid.", errors=errors)
        return NewUser(username=username, first_name=first_name, last_name=last_name, email=email, phone=phone,
                       locale=self.locale, registry_admin=self.registry_admin, memberships=dict(self.memberships),
                       departments=frozenset(self.departments))


def check_departments_in_hospitals(departments: dict[uuid.UUID, uuid.UUID | None],
                                   memberships: dict[uuid.UUID, str]) -> None:
    """Department access only to known departments of hospitals the user belongs to.

    ``departments`` maps each requested department to its hospital (None when unknown)."""
    unknown = sorted(str(d) for d, hospital in departments.items() if hospital is None)
    outside = sorted(str(d) for d, hospital in departments.items() if hospital is not None and hospital not in memberships)
    errors = {}
    if unknown:
        errors["departments"] = [f"unknown department(s): {', '.join(unknown)}"]
    elif outside:
        errors["departments"] = [f"department(s) of a hospital the user does not belong to: {', '.join(outside)}"]
    if errors:
        raise InvalidInput("Some fields are missing or invalid.", errors=errors)


def user_principal(*, user_id: uuid.UUID, username: str, registry_admin: bool, memberships: dict[uuid.UUID, str],
                   department_hospitals: dict[uuid.UUID, uuid.UUID]) -> Principal:
    """The principal of a user: one membership per hospital, carrying the departments of that
    hospital the user has access to. ``department_hospitals`` maps each accessible department to its
    hospital."""
    return Principal(
        subject=str(user_id), kind="user", username=username, registry_admin=registry_admin,
        memberships=tuple(
            Membership(hospital_id=hospital, role=role,
                       departments=frozenset(d for d, h in department_hospitals.items() if h == hospital))
            for hospital, role in sorted(memberships.items(), key=lambda item: str(item[0]))),
    )


def roles_of(registry_admin: bool, memberships: dict[uuid.UUID, str]) -> list[str]:
    """Every role the user holds somewhere, in a stable order."""
    roles = ([REGISTRY_ADMIN] if registry_admin else []) + [r for r in HOSPITAL_ROLES if r in memberships.values()]
    return roles
