"""Dates and names as Danish pages show them: local time (Europe/Copenhagen), day first."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from . import bp
from .messages import HOSPITAL_ROLES, REVIEW_STATES, STATUSES

DANISH_TIME = ZoneInfo("Europe/Copenhagen")
ROLE_NAMES = dict(HOSPITAL_ROLES) | {"registry_admin": "Registeradministrator"}
ACTIONS = {"created": "Oprettet", "added_to_hospital": "Tilføjet til hospital", "access_changed": "Adgang ændret",
           "review_removed": "Adgang fjernet ved brugergennemgang", "unlocked": "Spærring ophævet (Nulstil kode)",
           "phone_changed": "Telefonnummer ændret"}


def _parse(value) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:  # identity answers in UTC
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(DANISH_TIME)


@bp.app_template_filter("dk_datetime")
def dk_datetime(value, empty: str = "–") -> str:
    moment = _parse(value)
    return moment.strftime("%d.%m.%Y kl. %H:%M") if moment else empty


@bp.app_template_filter("dk_date")
def dk_date(value, empty: str = "–") -> str:
    moment = _parse(value)
    return moment.strftime("%d.%m.%Y") if moment else empty


@bp.app_template_filter("role_name")
def role_name(value) -> str:
    return ROLE_NAMES.get(value, value or "–")


@bp.app_template_filter("action_name")
def action_name(value) -> str:
    return ACTIONS.get(value, value)


@bp.app_template_filter("full_name")
def full_name(user: dict) -> str:
    return f"{user.get('first_name') or ''} {user.get('last_name') or ''}".strip() or user.get("username", "")


# What an audit entry's before/after may hold (identity's keys), as the user's page names them.
AUDIT_KEYS = {"username": "Brugernavn", "role": "Rolle", "departments": "Afdelinger", "blocked": "Spærret",
              "permanent": "Permanent spærret", "failures": "Fejlede login-forsøg",
              "reset_link_expires_at": "Link til ny adgangskode udløber", "removed_users": "Brugere fjernet",
              "phone": "Telefon"}


@bp.app_context_processor
def user_admin_words():
    return {"HOSPITAL_ROLES": HOSPITAL_ROLES, "STATUSES": STATUSES, "REVIEW_STATES": REVIEW_STATES,
            "AUDIT_KEYS": AUDIT_KEYS}
