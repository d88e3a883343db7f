"""Which messages an event asks for: one per channel and recipient. No I/O.

An event's data has been validated against its contract (servicekit.contracts) before it gets
here. The planned delivery keeps the event's data minus the sealed secret, which travels in its
own field so it can be erased once the message is out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from servicekit import contracts

EMAIL, SMS = "email", "sms"


@dataclass(frozen=True)
class PlannedDelivery:
    ordinal: int                     # position among the event's deliveries: part of the Message-ID
    purpose: str
    channel: str
    recipient: str                   # e-mail address or E.164 number
    recipient_name: str
    user_id: str | None
    locale: str
    context: dict[str, Any]          # what the templates need, no secret
    sealed_secret: str | None = None
    secret_expires_at: datetime | None = None


def _person(data: dict) -> dict[str, Any]:
    return {"name": data["name"], "locale": data["locale"], "user_id": data["user_id"]}


def _plan(purpose: str, person: dict, channels: list[tuple[str, str]], context: dict, *,
          sealed: str | None = None, expires_at: datetime | None = None, start: int = 0) -> list[PlannedDelivery]:
    return [PlannedDelivery(ordinal=start + index, purpose=purpose, channel=channel, recipient=address,
                            recipient_name=person["name"], user_id=person["user_id"], locale=person["locale"],
                            context=context, sealed_secret=sealed, secret_expires_at=expires_at)
            for index, (channel, address) in enumerate(channels)]


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def plan_deliveries(event_type: str, data: dict[str, Any], *, transfer_emails: bool) -> list[PlannedDelivery]:
    """The deliveries ``event_type`` asks for (possibly none)."""
    if event_type == "identity.user.created":
        user = data["user"]
        context = {"name": user["name"], "username": data["username"], "hospital": data["hospital"]["name"],
                   "departments": [d["name"] for d in data["departments"]], "created_by": data["created_by"],
                   "link_expires_at": data["set_password_expires_at"]}
        return _plan(contracts.PURPOSE_WELCOME, _person(user), [(EMAIL, user["email"])], context,
                     sealed=data["set_password_token"], expires_at=_parse_time(data["set_password_expires_at"]))

    if event_type == "identity.password_reset.code_issued":
        user = data["user"]
        channel = (SMS, user["phone"]) if user["phone"] else (EMAIL, user["email"])
        context = {"name": user["name"], "code_expires_at": data["expires_at"]}
        return _plan(contracts.PURPOSE_PASSWORD_RESET_CODE, _person(user), [channel], context,
                     sealed=data["code"], expires_at=_parse_time(data["expires_at"]))

    if event_type == "identity.password.changed":
        user = data["user"]
        channels = [(channel, user[key]) for channel, key in ((EMAIL, "email"), (SMS, "phone")) if user[key]]
        return _plan(contracts.PURPOSE_PASSWORD_CHANGED, _person(user), channels,
                     {"name": user["name"], "changed_at": data["changed_at"]})

    if event_type == "identity.user.added_to_hospital":
        user = data["user"]
        context = {"name": user["name"], "hospital": data["hospital"]["name"],
                   "departments": [d["name"] for d in data["departments"]], "added_by": data["added_by"]}
        return _plan(contracts.PURPOSE_ADDED_TO_HOSPITAL, _person(user), [(EMAIL, user["email"])], context)

    if event_type == "identity.user.access_removed":
        user = data["user"]
        context = {"name": user["name"], "hospital": data["hospital"]["name"],
                   "departments": [d["name"] for d in data["departments"]], "removed_at": data["removed_at"]}
        return _plan(contracts.PURPOSE_ACCESS_REMOVED, _person(user), [(EMAIL, user["email"])], context)

    if event_type == "identity.review.overdue":
        planned: list[PlannedDelivery] = []
        for admin in data["administrators"]:
            context = {"name": admin["name"], "hospital": data["hospital"]["name"],
                       "last_review_at": data["last_review_at"], "overdue_since": data["overdue_since"]}
            planned += _plan(contracts.PURPOSE_REVIEW_OVERDUE, _person(admin), [(EMAIL, admin["email"])], context,
                             start=len(planned))
        return planned

    if event_type == "identity.password_reset.link_issued":
        # The link by e-mail; where there is a phone, an SMS that a link was e-mailed (no secret in it).
        user = data["user"]
        context = {"name": user["name"], "issued_by": data["issued_by"], "link_expires_at": data["expires_at"]}
        planned = _plan(contracts.PURPOSE_PASSWORD_RESET_LINK, _person(user), [(EMAIL, user["email"])], context,
                        sealed=data["set_password_token"], expires_at=_parse_time(data["expires_at"]))
        if user["phone"]:
            planned += _plan(contracts.PURPOSE_PASSWORD_RESET_LINK, _person(user), [(SMS, user["phone"])], context,
                             start=len(planned))
        return planned

    if event_type == "identity.user.contact_changed":
        # To where the user was reachable before the change: the previous phone by SMS, the previous
        # e-mail address (the address itself when only the phone changed) by e-mail.
        user = data["user"]
        context = {"name": user["name"], "changed": data["changed"], "new_phone": user["phone"],
                   "new_email": user["email"], "changed_at": data["changed_at"]}
        channels = [(EMAIL, data["previous_email"])]
        if "phone" in data["changed"] and data["previous_phone"]:
            channels.append((SMS, data["previous_phone"]))
        return _plan(contracts.PURPOSE_CONTACT_CHANGED, _person(user), channels, context)

    if event_type == "patients.transfer.decided":
        requester = data["requested_by"]
        if not (transfer_emails and requester["email"]):
            return []  # in-app only (the patients service shows it)
        context = {"name": requester["name"], "decision": data["decision"], "reason": data["reason"],
                   "from_department": data["from_department"], "to_department": data["to_department"],
                   "decided_at": data["decided_at"]}
        return _plan(contracts.PURPOSE_TRANSFER_DECIDED, _person(requester), [(EMAIL, requester["email"])], context)

    raise ValueError(f"no messages are planned for {event_type}")


# Purposes whose message carries a secret (a link or a code): erased when no longer needed.
SECRET_PURPOSES = frozenset({contracts.PURPOSE_WELCOME, contracts.PURPOSE_PASSWORD_RESET_CODE,
                             contracts.PURPOSE_PASSWORD_RESET_LINK})
# Purposes whose secret is a set-password token, shown as a link (NOTIFICATIONS_SET_PASSWORD_URL).
LINK_PURPOSES = frozenset({contracts.PURPOSE_WELCOME, contracts.PURPOSE_PASSWORD_RESET_LINK})
# Of those, the deliveries that do not carry the secret: the reset link's SMS only says a link was e-mailed.
_WITHOUT_SECRET = frozenset({(contracts.PURPOSE_PASSWORD_RESET_LINK, SMS)})


def carries_secret(purpose: str, channel: str) -> bool:
    """Whether a delivery of this purpose on this channel holds a link or code (sealed until sent)."""
    return purpose in SECRET_PURPOSES and (purpose, channel) not in _WITHOUT_SECRET
