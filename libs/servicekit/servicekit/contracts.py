"""Every event type on the bus and the marshmallow schema its ``data`` must match.

One module for all producers and consumers: a producer cannot emit, nor a consumer accept, an
event that is not described here. A new version of an event gets a new entry; old versions stay
until no producer emits them.
"""
from __future__ import annotations

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


def validate(event_type: str, version: int, data: Any) -> dict[str, Any]:
    """Return ``data`` in canonical JSON form, or raise ContractError."""
    schema_cls = REGISTRY.get((event_type, version))
    if schema_cls is None:
        raise ContractError(f"no contract for {event_type} v{version}")
    schema = schema_cls()
    try:
        return schema.dump(schema.load(data))
    except ValidationError as exc:
        raise ContractError(f"{event_type} v{version} data invalid: {exc.messages}") from exc
