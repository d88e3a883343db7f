"""Every event type on the bus and the marshmallow schema its ``data`` must match.

One module for all producers and consumers: a producer cannot emit, nor a consumer accept, an
event that is not described here. A new version of an event gets a new entry; old versions stay
until no producer emits them.
"""
from __future__ import annotations

import functools
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .errors import ContractError


class Contract(Schema):
    class Meta:
        unknown = RAISE


class RegionRef(Contract):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class HospitalRef(Contract):
    id = fields.UUID(required=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class DepartmentUpserted(Contract):
    """A department was created or changed in the patients service's reference data."""

    id = fields.UUID(required=True)
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    active = fields.Boolean(required=True)
    hospital = fields.Nested(HospitalRef, required=True)
    region = fields.Nested(RegionRef, required=True)
    # Monotonic per department: consumers ignore an event older than what they hold.
    revision = fields.Integer(required=True, validate=validate.Range(min=1))


class UserAccessChanged(Contract):
    """A user's roles, hospitals or departments changed (or the user was blocked, unlocked,
    created): whoever caches the user's principal must drop it."""

    user_id = fields.UUID(required=True)
    subject = fields.String(required=True, validate=validate.Length(min=1, max=64))  # Keycloak user id
    reason = fields.String(required=True, validate=validate.Length(min=1, max=64))


REGISTRY: dict[tuple[str, int], type[Contract]] = {
    ("patients.department.upserted", 1): DepartmentUpserted,
    ("identity.user.access_changed", 1): UserAccessChanged,
}


@functools.cache
def _schema(schema_cls: type[Contract]) -> Contract:
    # One instance per contract: building a schema costs more than validating with it.
    return schema_cls()


def validate(event_type: str, version: int, data: Any) -> dict[str, Any]:
    """Return ``data`` in canonical JSON form, or raise ContractError."""
    schema_cls = REGISTRY.get((event_type, version))
    if schema_cls is None:
        raise ContractError(f"no contract for {event_type} v{version}")
    schema = _schema(schema_cls)
    try:
        return schema.dump(schema.load(data))
    except ValidationError as exc:
        raise ContractError(f"{event_type} v{version} data invalid: {exc.messages}") from exc


# --- Messages to people: what notifications consumes and produces --------------------------------
#
# Each event that should reach a person carries everything the message needs (names, addresses,
# locale, hospital and department names), so notifications never calls another service. Secrets
# travel sealed (servicekit.sealed): a ``Sealed`` field refuses a plaintext value.

from marshmallow import validates_schema  # noqa: E402  (kept beside the contracts that use it)

from marshmallow import validate as rules  # noqa: E402  (`validate` is the function above)

from .sealed import Sealed  # noqa: E402

LOCALES = ("da", "en")
E164 = rules.Regexp(r"^\+[1-9][0-9]{7,14}$", error="expected a phone number in E.164 form, e.g. +4512345678")

# Why a message is sent; one template per purpose (notifications/templates/).
PURPOSE_WELCOME = "welcome"
PURPOSE_PASSWORD_RESET_CODE = "password_reset_code"
PURPOSE_PASSWORD_CHANGED = "password_changed"
PURPOSE_ADDED_TO_HOSPITAL = "added_to_hospital"
PURPOSE_ACCESS_REMOVED = "access_removed"
PURPOSE_REVIEW_OVERDUE = "review_overdue"
PURPOSE_TRANSFER_DECIDED = "transfer_decided"
PURPOSE_PASSWORD_RESET_LINK = "password_reset_link"  # issue 5: "Nulstil kode" by an administrator
PURPOSE_CONTACT_CHANGED = "contact_changed"  # issue 7: the phone or e-mail of a profile changed
NOTIFICATION_PURPOSES = (PURPOSE_WELCOME, PURPOSE_PASSWORD_RESET_CODE, PURPOSE_PASSWORD_CHANGED,
                         PURPOSE_ADDED_TO_HOSPITAL, PURPOSE_ACCESS_REMOVED, PURPOSE_REVIEW_OVERDUE,
                         PURPOSE_TRANSFER_DECIDED, PURPOSE_PASSWORD_RESET_LINK, PURPOSE_CONTACT_CHANGED)
CHANNELS = ("email", "sms")


class Person(Contract):
    """Someone a message may go to. ``phone`` is E.164; ``locale`` picks Danish or English."""

    user_id = fields.UUID(required=True)
    name = fields.String(required=True, validate=rules.Length(min=1, max=200))
    email = fields.Email(load_default=None, allow_none=True, validate=rules.Length(max=254))
    phone = fields.String(load_default=None, allow_none=True, validate=E164)
    locale = fields.String(load_default="da", validate=rules.OneOf(LOCALES))


class MailRecipient(Person):
    """A person reached by e-mail: the address is required."""

    email = fields.Email(required=True, validate=rules.Length(max=254))


class ReachablePerson(Person):
    """A person reached by SMS, or by e-mail where there is no phone: one of them is required."""

    @validates_schema
    def _phone_or_email(self, data, **_kwargs):
        if not data.get("phone") and not data.get("email"):
            raise ValidationError("a phone number or an e-mail address is required", "phone")


class NamedRef(Contract):
    id = fields.UUID(required=True)
    name = fields.String(required=True, validate=rules.Length(min=1, max=200))


class DepartmentAtHospital(Contract):
    id = fields.UUID(required=True)
    name = fields.String(required=True, validate=rules.Length(min=1, max=200))
    hospital_name = fields.String(required=True, validate=rules.Length(min=1, max=200))


class UserCreated(Contract):
    """identity.user.created — a user was created (A1). notifications e-mails a welcome with a link
    to choose the first password: ``<NOTIFICATIONS_SET_PASSWORD_URL with the opened token>``.

    ``set_password_token`` is identity's single-use token, sealed; identity stores only its hash.
    """

    user = fields.Nested(MailRecipient, required=True)
    username = fields.String(required=True, validate=rules.Length(min=1, max=100))
    hospital = fields.Nested(NamedRef, required=True)
    departments = fields.List(fields.Nested(NamedRef), load_default=list)
    created_by = fields.String(load_default=None, allow_none=True, validate=rules.Length(max=200))  # admin's name
    set_password_token = Sealed(required=True)
    set_password_expires_at = fields.AwareDateTime(required=True)


class PasswordResetCodeIssued(Contract):
    """identity.password_reset.code_issued — a one-time code for a password reset (C2). Sent by SMS
    to ``user.phone``; by e-mail when the user has no phone. ``code`` is the 6 digits, sealed."""

    user = fields.Nested(ReachablePerson, required=True)
    reset_id = fields.UUID(required=True)
    code = Sealed(required=True)
    expires_at = fields.AwareDateTime(required=True)


class PasswordChanged(Contract):
    """identity.password.changed — the user's password was set or reset. A notice goes to the
    e-mail address and, where there is one, the phone: if it was not them, they should react."""

    user = fields.Nested(ReachablePerson, required=True)
    changed_at = fields.AwareDateTime(required=True)


class UserAddedToHospital(Contract):
    """identity.user.added_to_hospital — an existing user got access at another hospital (A2)."""

    user = fields.Nested(MailRecipient, required=True)
    hospital = fields.Nested(NamedRef, required=True)
    departments = fields.List(fields.Nested(NamedRef), required=True, validate=rules.Length(min=1))
    added_by = fields.String(load_default=None, allow_none=True, validate=rules.Length(max=200))  # admin's name


class UserAccessRemoved(Contract):
    """identity.user.access_removed — departments were taken from a user in a quarterly review (A3)."""

    user = fields.Nested(MailRecipient, required=True)
    hospital = fields.Nested(NamedRef, required=True)
    departments = fields.List(fields.Nested(NamedRef), required=True, validate=rules.Length(min=1))
    removed_at = fields.AwareDateTime(required=True)


class ReviewOverdue(Contract):
    """identity.review.overdue — a hospital's last documented review is more than 3 months old (or
    there is none). Each local administrator listed gets a reminder in their own locale."""

    hospital = fields.Nested(NamedRef, required=True)
    last_review_at = fields.AwareDateTime(load_default=None, allow_none=True)
    overdue_since = fields.AwareDateTime(required=True)
    administrators = fields.List(fields.Nested(MailRecipient), required=True,
                                 validate=rules.Length(min=1, max=100))


class TransferDecided(Contract):
    """patients.transfer.decided — a transfer request was approved or rejected (E1). The notice is
    in-app (patients); notifications e-mails the requester only where NOTIFICATIONS_TRANSFER_EMAILS
    is on and the requester has an address. No patient data: never CPR, nor the patient's name."""

    transfer_id = fields.UUID(required=True)
    decision = fields.String(required=True, validate=rules.OneOf(("approved", "rejected")))
    reason = fields.String(load_default=None, allow_none=True, validate=rules.Length(max=500))
    from_department = fields.Nested(DepartmentAtHospital, required=True)
    to_department = fields.Nested(DepartmentAtHospital, required=True)
    decided_at = fields.AwareDateTime(required=True)
    requested_by = fields.Nested(Person, required=True)


class DeliveryOutcome(Contract):
    """What notifications did with one message (one channel, one recipient) an event asked for."""

    delivery_id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)           # the event that asked for the message
    event_type = fields.String(required=True, validate=rules.Length(min=1, max=120))
    purpose = fields.String(required=True, validate=rules.OneOf(NOTIFICATION_PURPOSES))
    channel = fields.String(required=True, validate=rules.OneOf(CHANNELS))
    recipient = fields.String(required=True, validate=rules.Length(min=1, max=80))  # masked
    user_id = fields.UUID(load_default=None, allow_none=True)
    attempts = fields.Integer(required=True, validate=rules.Range(min=1))


class DeliverySucceeded(DeliveryOutcome):
    """notifications.delivery.succeeded — the SMTP server or SMS provider accepted the message."""

    sent_at = fields.AwareDateTime(required=True)


class DeliveryFailed(DeliveryOutcome):
    """notifications.delivery.failed — a message will not be delivered: the server refused it for
    good (``permanent``) or the retries ran out. ``reason`` never contains a code or a link."""

    failed_at = fields.AwareDateTime(required=True)
    permanent = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=rules.Length(min=1, max=500))


REGISTRY.update({
    ("identity.user.created", 1): UserCreated,
    ("identity.password_reset.code_issued", 1): PasswordResetCodeIssued,
    ("identity.password.changed", 1): PasswordChanged,
    ("identity.user.added_to_hospital", 1): UserAddedToHospital,
    ("identity.user.access_removed", 1): UserAccessRemoved,
    ("identity.review.overdue", 1): ReviewOverdue,
    ("patients.transfer.decided", 1): TransferDecided,
    ("notifications.delivery.succeeded", 1): DeliverySucceeded,
    ("notifications.delivery.failed", 1): DeliveryFailed,
})


# --- Patients: transfers between departments and the patient platform's status ------------------
#
# Never a CPR number nor a patient's name: a patient appears by the patients service's opaque id.
# ``patients.transfer.decided`` (above) is the decision; these are the other steps.

class TransferRequested(Contract):
    """patients.transfer.requested — a department asked another to hand a patient over (E1, E2)."""

    transfer_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    from_department = fields.Nested(DepartmentAtHospital, required=True)
    to_department = fields.Nested(DepartmentAtHospital, required=True)
    requested_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)
    requested_by = fields.Nested(Person, required=True)


class TransferCompleted(Contract):
    """patients.transfer.completed — an approved transfer moved the registration: the source
    department no longer has the patient, the requesting department has."""

    transfer_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    from_department = fields.Nested(DepartmentAtHospital, required=True)
    to_department = fields.Nested(DepartmentAtHospital, required=True)
    completed_at = fields.AwareDateTime(required=True)


class PlatformStatusChanged(Contract):
    """patients.platform_status.changed — the patient platform's newest report changed a patient's
    status ("Aktiv"/"Inaktiv"); ``reported_at`` is the platform's own timestamp."""

    patient_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=rules.OneOf(("active", "inactive")))
    previous_status = fields.String(load_default=None, allow_none=True, validate=rules.OneOf(("active", "inactive")))
    reported_at = fields.AwareDateTime(required=True)


REGISTRY.update({
    ("patients.transfer.requested", 1): TransferRequested,
    ("patients.transfer.completed", 1): TransferCompleted,
    ("patients.platform_status.changed", 1): PlatformStatusChanged,
})


# --- issue 5: unlock by the local administrator ("Nulstil kode") -----------------------------------

class PasswordResetLinkIssued(Contract):
    """identity.password_reset.link_issued — an administrator unlocked a blocked user (A5) and
    identity issued a single-use set-password link (purpose "reset"). notifications e-mails the link
    (``<NOTIFICATIONS_SET_PASSWORD_URL with the opened token>``, the page of the welcome link) and,
    where the user has a phone, sends an SMS saying a reset link was e-mailed — never the link."""

    user = fields.Nested(MailRecipient, required=True)  # the link goes by e-mail; phone optional
    set_password_token = Sealed(required=True)
    expires_at = fields.AwareDateTime(required=True)
    issued_by = fields.String(load_default=None, allow_none=True, validate=rules.Length(max=200))  # admin's name


REGISTRY.update({
    ("identity.password_reset.link_issued", 1): PasswordResetLinkIssued,
})


# --- issue 7: the user's own profile ("Ret mine oplysninger") ---------------------------------------

class ContactChanged(Contract):
    """identity.user.contact_changed — a user changed the phone number or e-mail address on their
    profile. ``user`` carries the new ones. notifications tells the previous channel: an SMS to
    ``previous_phone`` when the phone changed, and an e-mail to ``previous_email`` (or to the address
    when only the phone changed): whoever changed them, the owner hears of it where they still are."""

    user = fields.Nested(MailRecipient, required=True)
    changed = fields.List(fields.String(validate=rules.OneOf(("phone", "email"))), required=True,
                          validate=rules.Length(min=1, max=2))
    previous_phone = fields.String(load_default=None, allow_none=True, validate=E164)
    previous_email = fields.Email(required=True, validate=rules.Length(max=254))
    changed_at = fields.AwareDateTime(required=True)


REGISTRY.update({
    ("identity.user.contact_changed", 1): ContactChanged,
})
