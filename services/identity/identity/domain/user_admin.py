"""User administration (issue 5): the administrator's form, statuses, reviews — rules without I/O.

Field errors carry a code per field (servicekit.errors ``codes``) that the web UI words in Danish.
"""
from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from servicekit.errors import InvalidInput

from .phone import InvalidPhone, normalise_phone
from .users import EMAIL_ADDRESS, HOSPITAL_ROLES, normalise_username

STATUSES = ("active", "blocked", "never_logged_in", "email_failed")
# A user's review state at one hospital: access created, added or changed there after the hospital's
# last documented review (every user when it was never reviewed), or not.
REVIEW_STATES = ("changed", "unchanged")
# The audit actions that give or change access at a hospital (what a review has to look at again).
ACCESS_ACTIONS = ("created", "added_to_hospital", "access_changed")
SEARCH_MIN_TERM = 3
SEARCH_LIMIT = 50
REVIEW_INTERVAL_MONTHS = 3

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_EMAIL = EMAIL_ADDRESS  # one rule for every form (domain/users.py)
_LIMITS = {"username": 64, "first_name": 100, "last_name": 100, "email": 254}


class FieldErrors:
    """Collects one message and one code per field, then raises them together."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}
        self.codes: dict[str, str] = {}

    def add(self, field: str, code: str, message: str) -> None:
        if field not in self.codes:
            self.errors[field] = [message]
            self.codes[field] = code

    def raise_if_any(self) -> None:
        if self.codes:
            raise InvalidInput("Some fields are missing or invalid.", errors=self.errors, codes=self.codes)


@dataclass(frozen=True)
class UserForm:
    """"Opret bruger" as typed, normalised: username in lower case, phone in E.164."""

    username: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    role: str
    departments: frozenset[uuid.UUID]


def _text(errors: FieldErrors, field: str, raw) -> str:
    value = (raw or "").strip() if isinstance(raw, str) or raw is None else str(raw)
    if not value:
        errors.add(field, "required", "required")
    elif len(value) > _LIMITS[field]:
        errors.add(field, "too_long", f"at most {_LIMITS[field]} characters")
    return value


def check_role(errors: FieldErrors, role) -> str:
    if not role:
        errors.add("role", "required", "required")
    elif role not in HOSPITAL_ROLES:
        errors.add("role", "invalid_role", f"one of {', '.join(HOSPITAL_ROLES)}")
    return role


def check_departments(errors: FieldErrors, departments, *, at_least_one: bool) -> frozenset[uuid.UUID]:
    chosen = frozenset(departments or ())
    if at_least_one and not chosen:
        errors.add("departments", "no_department", "choose at least one department")
    return chosen


def validate_user_form(data: dict) -> UserForm:
    """The create form, normalised, or InvalidInput with a message and a code for every bad field."""
    errors = FieldErrors()
    username = normalise_username(_text(errors, "username", data.get("username")))
    if username and "username" not in errors.codes and not _USERNAME.match(username):
        errors.add("username", "invalid_username",
                   "2-64 characters: letters a-z, digits, '.', '_' or '-', starting with a letter or digit")
    first_name = _text(errors, "first_name", data.get("first_name"))
    last_name = _text(errors, "last_name", data.get("last_name"))
    email = _text(errors, "email", data.get("email"))
    if email and "email" not in errors.codes and not _EMAIL.match(email):
        errors.add("email", "invalid_email", "an e-mail address")
    phone = None
    try:
        phone = normalise_phone(data.get("phone"))
    except InvalidPhone as exc:
        errors.add("phone", "invalid_phone", exc.errors["phone"][0])
    role = check_role(errors, data.get("role"))
    departments = check_departments(errors, data.get("departments"), at_least_one=True)
    errors.raise_if_any()
    return UserForm(username=username, first_name=first_name, last_name=last_name, email=email, phone=phone,
                    role=role, departments=departments)


def check_departments_of_hospital(chosen, hospital_departments: set[uuid.UUID]) -> None:
    """Only departments of the hospital acted on (422 unknown_department otherwise)."""
    outside = sorted(str(d) for d in chosen if d not in hospital_departments)
    if outside:
        raise InvalidInput("Some fields are missing or invalid.",
                           errors={"departments": [f"not a department of this hospital: {', '.join(outside)}"]},
                           codes={"departments": "unknown_department"})


def check_search_term(raw: str | None) -> str:
    term = (raw or "").strip()
    if len(term) < SEARCH_MIN_TERM:
        raise InvalidInput("The search term is too short.",
                           errors={"q": [f"at least {SEARCH_MIN_TERM} characters"]}, codes={"q": "term_too_short"})
    if len(term) > 100:
        raise InvalidInput("The search term is too long.", errors={"q": ["at most 100 characters"]},
                           codes={"q": "too_long"})
    return term


def like_pattern(term: str) -> str:
    """``%term%`` for LIKE, in lower case, with LIKE's own wildcards taken literally (escape '\\')."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later (the month's last day where it is shorter)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    days = [31, 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31,
            30, 31, 30, 31][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days))


def review_due_at(last_reviewed_at: datetime | None) -> datetime | None:
    """When a review becomes overdue: 3 months after the last one (None: never reviewed, due now)."""
    return None if last_reviewed_at is None else add_months(last_reviewed_at, REVIEW_INTERVAL_MONTHS)


def review_overdue(last_reviewed_at: datetime | None, now: datetime) -> bool:
    due = review_due_at(last_reviewed_at)
    return due is None or now > due


def access_snapshot(role: str | None, departments: list[dict]) -> dict:
    """What the audit keeps of a user's access at one hospital."""
    if role is None and not departments:
        return {}
    return {"role": role, "departments": sorted(departments, key=lambda d: (d["name"], d["id"]))}


def access_version(role: str | None, department_ids) -> str:
    """The version of a user's access at one hospital, as the "Rediger bruger" form showed it: a
    digest of the role and the departments. A save that names the version it was based on is
    refused (409) when the access has changed since — two administrators editing the same user
    would otherwise silently undo each other (e.g. re-grant a department just removed in a
    review). Derived from the state itself, so it needs no column and a change that was undone
    again is no conflict."""
    text = f"{role or ''}|{','.join(sorted(str(d) for d in department_ids))}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def removed_between(entries: list[dict]) -> dict[uuid.UUID, list[str]]:
    """From users' audit entries at one hospital between two reviews (oldest first), the departments
    each user had at any point of the period and no longer has at its end: {user id: [names]}.
    Access granted and taken away again within the period counts too — an auditor wants to see it."""
    had: dict[uuid.UUID, dict] = {}
    last_after: dict = {}
    for entry in entries:
        seen = had.setdefault(entry["user_id"], {})
        for state in (entry["before"], entry["after"]):
            seen.update({d["id"]: d["name"] for d in (state or {}).get("departments", [])})
        last_after[entry["user_id"]] = entry["after"]
    removed = {}
    for user_id, departments in had.items():
        kept = {d["id"] for d in (last_after[user_id] or {}).get("departments", [])}
        gone = sorted(name for department_id, name in departments.items() if department_id not in kept)
        if gone:
            removed[user_id] = gone
    return removed
