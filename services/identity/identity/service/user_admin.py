"""User administration of one hospital (issue 5, A1, A2, A4 list, A5 edit): list, look at, create,
add from another hospital, change access, search all users.

Every change of access is recorded in the append-only audit and announced with
``identity.user.access_changed`` in the same unit of work. Only the hospital acted on changes:
a user's other hospitals are never touched.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.exc import IntegrityError

from servicekit.errors import Conflict, DependencyUnavailable, InvalidInput, NotFound
from servicekit.principal import Principal
from servicekit.sealed import Sealer
from servicekit.uow import UnitOfWork

from ..adapters import admin_repository as admin_repo
from ..adapters import department_repository, user_repository
from ..adapters.keycloak_directory import UserDirectory
from ..domain.user_admin import (SEARCH_LIMIT, FieldErrors, access_snapshot, access_version, check_departments,
                                 check_departments_of_hospital, check_role, check_search_term, like_pattern,
                                 validate_user_form)
from ..domain.users import NewUser
from . import set_password_tokens
from ..domain.phone import masked_phone, normalise_phone
from .access import record_access_changed
from .people import person_of
from .profile_changes import CONTACT_CHANGED
from .admin_access import actor, require_administrator, require_hospital, require_member
from .users import check_new_user, create_keycloak_user, deleted_from_keycloak_on_failure, record_new_user

log = logging.getLogger(__name__)

USER_CREATED = "identity.user.created"
ADDED_TO_HOSPITAL = "identity.user.added_to_hospital"
ACCESS_REMOVED = "identity.user.access_removed"
MAX_PER_PAGE = 100
_FIELD_CODES = {"username": "invalid_username", "email": "invalid_email", "phone": "invalid_phone",
                "memberships": "invalid_role", "first_name": "too_long", "last_name": "too_long"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _department_refs(rows) -> list[dict]:
    return [{"id": str(row.id), "name": row.name} for row in rows]


# --- reading ---------------------------------------------------------------------------------------

def user_rows(uow: UnitOfWork, directory: UserDirectory, hospital_id: uuid.UUID, rows, *,
              locked: set[str] | None = None, after_commit: bool = False) -> list[dict[str, Any]]:
    """UserRow for each user (as seen from this hospital); asks Keycloak which of them are locked
    out (``locked``: already asked). The MitID link is identity's copy (service/mitid_links.py).

    ``after_commit``: the answer to a change already committed must not turn into a 503 because
    Keycloak hiccups now; the lock flag then shows false (it is only informative there)."""
    rows = list(rows)
    if locked is None:
        try:
            locked = directory.locked_users([row.keycloak_id for row in rows])
        except DependencyUnavailable:
            if not after_commit:
                raise
            log.warning("keycloak unavailable after a committed change; lock flags not shown")
            locked = set()
    departments = admin_repo.departments_at(uow.session, [row.id for row in rows], hospital_id)
    return [{
        "id": row.id, "username": row.username, "first_name": row.first_name, "last_name": row.last_name,
        "email": row.email, "phone_present": bool(row.phone), "role": row.role,
        "departments": [{"id": d.id, "name": d.name} for d in departments[row.id]],
        "last_login_at": row.last_login_at, "mitid_linked": row.mitid_linked,
        "blocked": row.keycloak_id in locked, "never_logged_in": row.last_login_at is None,
        "email_failed": bool(row.email_failed),
    } for row in rows]


def list_users(uow: UnitOfWork, directory: UserDirectory, caller: Principal, hospital_id: uuid.UUID, *,
               department: uuid.UUID | None = None, status: str | None = None, review: str | None = None,
               q: str | None = None, page: int = 1, per_page: int = 25) -> dict[str, Any]:
    """A hospital's users by name, filtered and paginated (A4's list).

    A status filter returns exactly the users whose row shows that status: ``active`` is a user
    with none of the others (not blocked, has logged in, welcome e-mail not failed). ``review``:
    ``changed`` = access here created, added or changed since the hospital's last documented
    review (everyone when there was none), ``unchanged`` = the others."""
    require_hospital(uow, caller, hospital_id)
    if department is not None:
        check_departments_of_hospital([department], _department_ids(uow, hospital_id))
    page, per_page = max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)
    filters = {"department_id": department, "q_pattern": like_pattern(q.strip()) if q and q.strip() else None,
               "never_logged_in": status == "never_logged_in", "email_failed": status == "email_failed",
               "logged_in_email_ok": status == "active",
               "changed_since_review": None if review is None else review == "changed"}
    start = (page - 1) * per_page
    locked = None
    if status in ("blocked", "active"):
        # Keycloak keeps the lock state: ask which of the hospital's users SQL's filters left are
        # locked, then page.
        candidates = admin_repo.hospital_users(uow.session, hospital_id, **filters)
        locked = directory.locked_users([row.keycloak_id for row in candidates])
        wanted = status == "blocked"
        matching = [row for row in candidates if (row.keycloak_id in locked) == wanted]
        total, rows = len(matching), matching[start:start + per_page]
    else:
        total = admin_repo.count_hospital_users(uow.session, hospital_id, **filters)
        rows = admin_repo.hospital_users(uow.session, hospital_id, limit=per_page, offset=start, **filters)
    return {"items": user_rows(uow, directory, hospital_id, rows, locked=locked), "total": total, "page": page,
            "per_page": per_page}


def user_detail(uow: UnitOfWork, directory: UserDirectory, caller: Principal, hospital_id: uuid.UUID,
                user_id: uuid.UUID) -> dict[str, Any]:
    """One user as seen from one hospital, with all their hospitals and the audit of their access."""
    require_hospital(uow, caller, hospital_id)
    return _detail(uow, directory, hospital_id, require_member(uow, hospital_id, user_id))


def _detail(uow: UnitOfWork, directory: UserDirectory, hospital_id: uuid.UUID, row, *,
            after_commit: bool = False) -> dict[str, Any]:
    [detail] = user_rows(uow, directory, hospital_id, [row], after_commit=after_commit)
    memberships = user_repository.memberships_of(uow.session, row.id)
    names = department_repository.hospitals(uow.session, memberships)
    detail["hospitals"] = sorted(({"id": h, "name": names.get(h, ("", str(h)))[1], "role": role}
                                  for h, role in memberships.items()), key=lambda h: h["name"])
    detail["version"] = access_version(detail["role"], [d["id"] for d in detail["departments"]])
    detail["audit"] = [{"at": entry.at, "actor": entry.actor_name, "action": entry.action,
                        "hospital_name": entry.hospital_name, "before": entry.before or {},
                        "after": entry.after or {}}
                       for entry in admin_repo.audit_of_user(uow.session, row.id)]
    return detail


def _removed_detail(uow: UnitOfWork, user_id: uuid.UUID) -> dict[str, Any]:
    """A user just removed from the hospital: what is left to show (no role, no departments here)."""
    user = user_repository.get(uow.session, user_id)
    memberships = user_repository.memberships_of(uow.session, user_id)
    names = department_repository.hospitals(uow.session, memberships)
    email = admin_repo.email_status(uow.session, user_id)
    return {"id": user.id, "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "phone_present": bool(user.phone), "role": None, "departments": [],
            "last_login_at": user.last_login_at, "mitid_linked": user.mitid_linked, "blocked": False,
            "never_logged_in": user.last_login_at is None, "email_failed": bool(email and email.email_failed),
            "version": access_version(None, []),
            "hospitals": sorted(({"id": h, "name": names.get(h, ("", str(h)))[1], "role": role}
                                 for h, role in memberships.items()), key=lambda h: h["name"]),
            "audit": [{"at": e.at, "actor": e.actor_name, "action": e.action, "hospital_name": e.hospital_name,
                       "before": e.before or {}, "after": e.after or {}}
                      for e in admin_repo.audit_of_user(uow.session, user_id)]}


def _department_ids(uow: UnitOfWork, hospital_id: uuid.UUID) -> set[uuid.UUID]:
    return {row.id for row in admin_repo.departments_of_hospital(uow.session, hospital_id)}


def _chosen_departments(uow: UnitOfWork, hospital_id: uuid.UUID, chosen) -> list:
    rows = {row.id: row for row in admin_repo.departments_of_hospital(uow.session, hospital_id)}
    check_departments_of_hospital(chosen, set(rows))
    return sorted((rows[d] for d in chosen), key=lambda row: row.name)


def _person(user) -> dict[str, Any]:
    return {"user_id": str(user.id), "name": f"{user.first_name} {user.last_name}", "email": user.email,
            "phone": user.phone, "locale": user.locale}


def _audit(uow: UnitOfWork, caller: Principal, *, action: str, user_id, hospital_id, hospital_name,
           before: dict, after: dict, at: datetime | None = None) -> None:
    actor_id, actor_name = actor(uow, caller)
    admin_repo.append_audit(uow.session, at=at or _now(), actor_id=actor_id, actor_name=actor_name, action=action,
                            user_id=user_id, hospital_id=hospital_id, hospital_name=hospital_name, before=before,
                            after=after)


# --- the phone an administrator adds when the welcome e-mail failed ---------------------------------

def change_phone(uow: UnitOfWork, directory: UserDirectory, caller: Principal, hospital_id: uuid.UUID,
                 user_id: uuid.UUID, *, phone: str | None) -> dict[str, Any]:
    """Set (or clear) the phone of a user of this hospital, as people type it (stored E.164). The
    owner hears of it as on their profile page (identity.user.contact_changed); audited with the
    number masked."""
    hospital_name = require_hospital(uow, caller, hospital_id)
    admin_repo.lock_user(uow.session, user_id)
    require_member(uow, hospital_id, user_id)
    new = normalise_phone(phone)
    user = user_repository.get(uow.session, user_id)
    if new != user.phone:
        now = _now()
        user_repository.set_phone(uow.session, user_id, new)
        _audit(uow, caller, action="phone_changed", user_id=user_id, hospital_id=hospital_id,
               hospital_name=hospital_name, before={"phone": masked_phone(user.phone)},
               after={"phone": masked_phone(new)}, at=now)
        uow.emit(CONTACT_CHANGED, {"user": person_of(user_repository.get(uow.session, user_id)), "changed": ["phone"],
                                   "previous_phone": user.phone, "previous_email": user.email,
                                   "changed_at": now.isoformat()})
    uow.commit()
    return _detail(uow, directory, hospital_id, admin_repo.hospital_user(uow.session, hospital_id, user_id),
                   after_commit=True)


# --- A1: create ------------------------------------------------------------------------------------

def create_user(uow: UnitOfWork, directory: UserDirectory, sealer: Sealer | None, caller: Principal,
                hospital_id: uuid.UUID, form: dict) -> dict[str, Any]:
    """A new user of this hospital: Keycloak user without a password, identity's rows, a 72-hour
    activation token and identity.user.created (token sealed), all or nothing."""
    hospital_name = require_hospital(uow, caller, hospital_id)
    typed = validate_user_form(form)
    chosen = _chosen_departments(uow, hospital_id, typed.departments)
    if sealer is None:
        raise DependencyUnavailable("identity has no sealing key (DANBIO_SEALING_KEY) for the welcome link; "
                                    "nothing was changed.")
    try:
        new_user = NewUser(username=typed.username, first_name=typed.first_name, last_name=typed.last_name,
                           email=typed.email, phone=typed.phone, memberships={hospital_id: typed.role},
                           departments=typed.departments).validated()
    except InvalidInput as exc:  # identity's general rules (e.g. reserved usernames): give each a code
        raise InvalidInput(exc.detail, errors=exc.errors,
                           codes={field: _FIELD_CODES.get(field, "invalid") for field in exc.errors}) from None
    _check_free(uow, new_user)
    try:
        keycloak_id = create_keycloak_user(uow, directory, new_user, None)
    except Conflict:
        raise _keycloak_conflict(directory, new_user) from None
    with deleted_from_keycloak_on_failure(directory, keycloak_id):
        try:
            user_id = record_new_user(uow, new_user, keycloak_id)
            uow.session.flush()
        except IntegrityError:  # another administrator created the same username meanwhile
            raise _username_taken() from None
        token = set_password_tokens.issue(uow.session, user_id, set_password_tokens.ACTIVATION,
                                          set_password_tokens.ACTIVATION_TTL)
        _, actor_name = actor(uow, caller)
        user = user_repository.get(uow.session, user_id)
        uow.emit(USER_CREATED, {
            "user": _person(user), "username": user.username, "hospital": {"id": str(hospital_id), "name": hospital_name},
            "departments": _department_refs(chosen), "created_by": actor_name,
            "set_password_token": sealer.seal(token.token), "set_password_expires_at": token.expires_at.isoformat()})
        _audit(uow, caller, action="created", user_id=user_id, hospital_id=hospital_id, hospital_name=hospital_name,
               before={}, after={"username": user.username, **access_snapshot(typed.role, _department_refs(chosen))})
        uow.commit()
    return _detail(uow, directory, hospital_id, admin_repo.hospital_user(uow.session, hospital_id, user_id),
                   after_commit=True)


def _username_taken() -> Conflict:
    return Conflict("A user with this username already exists.", errors={"username": ["already taken"]},
                    codes={"username": "username_taken"})


def _check_free(uow: UnitOfWork, user: NewUser) -> None:
    try:
        check_new_user(uow, user)
    except Conflict:
        raise _username_taken() from None
    if admin_repo.email_taken(uow.session, user.email):
        raise Conflict("A user with this e-mail address already exists.", errors={"email": ["already in use"]},
                       codes={"email": "email_taken"})


def _keycloak_conflict(directory: UserDirectory, user: NewUser) -> Conflict:
    """Keycloak has the username or the e-mail (a user identity does not know): say which."""
    if directory.find_user_id(user.username) is not None:
        return _username_taken()
    return Conflict("A user with this e-mail address already exists in the login service.",
                    errors={"email": ["already in use"]}, codes={"email": "email_taken"})


# --- A2: search all users, add one to this hospital ------------------------------------------------

def search_users(uow: UnitOfWork, caller: Principal, q: str | None) -> dict[str, Any]:
    """Users of every hospital whose username or e-mail contains the term; only what an
    administrator of another hospital may see (name, username, e-mail, hospitals)."""
    require_administrator(caller)
    term = check_search_term(q)
    rows = admin_repo.search_users(uow.session, like_pattern(term), limit=SEARCH_LIMIT + 1)
    truncated, rows = len(rows) > SEARCH_LIMIT, rows[:SEARCH_LIMIT]
    return {"truncated": truncated, "items": [
        {**row, "hospitals": sorted(({"id": h, "name": name} for h, name in row["hospitals"]),
                                    key=lambda h: h["name"])}
        for row in rows]}


def add_to_hospital(uow: UnitOfWork, directory: UserDirectory, caller: Principal, hospital_id: uuid.UUID,
                    user_id: uuid.UUID, *, role: str, departments) -> dict[str, Any]:
    """An existing user (of any hospital) gets a role and departments here; nothing else changes."""
    hospital_name = require_hospital(uow, caller, hospital_id)
    errors = FieldErrors()
    check_role(errors, role)
    chosen_ids = check_departments(errors, departments, at_least_one=True)
    errors.raise_if_any()
    chosen = _chosen_departments(uow, hospital_id, chosen_ids)
    admin_repo.lock_user(uow.session, user_id)
    user = user_repository.get(uow.session, user_id)
    if user is None:
        raise NotFound("No such user.")
    if hospital_id in user_repository.memberships_of(uow.session, user_id):
        raise Conflict("The user already belongs to this hospital.", errors={"user": ["already a member"]},
                       codes={"user": "already_member"})
    user_repository.add_membership(uow.session, user_id, hospital_id, role)
    for department in chosen:
        user_repository.add_department_access(uow.session, user_id, department.id)
    _, actor_name = actor(uow, caller)
    refs = _department_refs(chosen)
    uow.emit(ADDED_TO_HOSPITAL, {"user": _person(user), "hospital": {"id": str(hospital_id), "name": hospital_name},
                                 "departments": refs, "added_by": actor_name})
    record_access_changed(uow, user_id=user_id, keycloak_id=user.keycloak_id, reason="added_to_hospital")
    _audit(uow, caller, action="added_to_hospital", user_id=user_id, hospital_id=hospital_id,
           hospital_name=hospital_name, before={}, after=access_snapshot(role, refs))
    uow.commit()
    return _detail(uow, directory, hospital_id, admin_repo.hospital_user(uow.session, hospital_id, user_id),
                   after_commit=True)


# --- A3/A5: change access at this hospital ---------------------------------------------------------

def change_access(uow: UnitOfWork, directory: UserDirectory, caller: Principal, hospital_id: uuid.UUID,
                  user_id: uuid.UUID, *, role: str, departments, version: str | None = None) -> dict[str, Any]:
    """This hospital's role and departments of the user ("Gem ændringer"); no departments removes
    the user from the hospital. Their other hospitals are not touched.

    Concurrent saves of one user are serialised by a row lock on the user, so each audit row's
    "before" is what the previous save left. ``version`` (UserDetail.version, what the form was
    based on) makes a save that would overwrite someone else's change meanwhile a 409 instead."""
    hospital_name = require_hospital(uow, caller, hospital_id)
    admin_repo.lock_user(uow.session, user_id)
    member = require_member(uow, hospital_id, user_id)
    current = admin_repo.departments_at(uow.session, [user_id], hospital_id)[user_id]
    if version is not None and version != access_version(member.role, [d.id for d in current]):
        raise Conflict("The user's access here was changed by someone else after the form was opened; "
                       "nothing was saved. Load the user again and redo the change.",
                       errors={"version": ["changed meanwhile"]}, codes={"version": "changed_meanwhile"})
    errors = FieldErrors()
    check_role(errors, role)
    chosen_ids = check_departments(errors, departments, at_least_one=False)
    errors.raise_if_any()
    chosen = _chosen_departments(uow, hospital_id, chosen_ids)
    before = access_snapshot(member.role, _department_refs(current))
    current_ids, chosen_by_id = {d.id for d in current}, {d.id: d for d in chosen}
    removed = [d for d in current if d.id not in chosen_by_id]
    admin_repo.remove_department_access(uow.session, user_id, [d.id for d in removed])
    for department_id in sorted(set(chosen_by_id) - current_ids, key=str):
        user_repository.add_department_access(uow.session, user_id, department_id)
    if chosen:
        admin_repo.set_role(uow.session, user_id, hospital_id, role)
        after = access_snapshot(role, _department_refs(chosen))
    else:
        admin_repo.remove_membership(uow.session, user_id, hospital_id)
        after = {}
    if before != after:
        now = _now()
        record_access_changed(uow, user_id=user_id, keycloak_id=member.keycloak_id, reason="access_changed")
        _audit(uow, caller, action="access_changed", user_id=user_id, hospital_id=hospital_id,
               hospital_name=hospital_name, before=before, after=after, at=now)
        if removed:
            uow.emit(ACCESS_REMOVED, {"user": _person(member), "hospital": {"id": str(hospital_id), "name": hospital_name},
                                      "departments": _department_refs(removed), "removed_at": now.isoformat()})
    uow.commit()
    row = admin_repo.hospital_user(uow.session, hospital_id, user_id)
    if row is None:
        return _removed_detail(uow, user_id)
    return _detail(uow, directory, hospital_id, row, after_commit=True)

