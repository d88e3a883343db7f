"""Deliveries for the registry's administrators (through the gateway): by user and status; resend."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from servicekit import contracts
from servicekit.web import current_principal

from ..adapters.delivery_repository import aware
from ..domain.sending import STATUSES
from ..service import deliveries as use_cases

blp = Blueprint("deliveries", __name__, url_prefix="/deliveries",
                description="E-mail and SMS deliveries, their attempts, and resending a failed one "
                            "(registry administrators only)")


class DeliveryQuery(Schema):
    class Meta:
        unknown = RAISE

    user_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(STATUSES))
    purpose = fields.String(validate=validate.OneOf(contracts.NOTIFICATION_PURPOSES))
    channel = fields.String(validate=validate.OneOf(contracts.CHANNELS))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class AttemptSchema(Schema):
    number = fields.Integer()
    status = fields.String()
    template = fields.String()
    provider_response = fields.String(allow_none=True)
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class DeliverySchema(Schema):
    id = fields.UUID()
    event_id = fields.UUID()
    event_type = fields.String()
    purpose = fields.String()
    channel = fields.String()
    recipient = fields.String()
    recipient_name = fields.String()
    user_id = fields.UUID(allow_none=True)
    locale = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    resends = fields.Integer()
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    resendable = fields.Boolean()


class DeliveryDetailSchema(DeliverySchema):
    attempt_log = fields.List(fields.Nested(AttemptSchema))


class DeliveryPageSchema(Schema):
    total = fields.Integer()
    items = fields.List(fields.Nested(DeliverySchema))


def _runtime():
    return current_app.extensions["danbio.runtime"]


def _utc(row) -> dict:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return {key: aware(value) if isinstance(value, datetime) else value for key, value in row._mapping.items()}


def _delivery(row, attempts=None) -> dict:
    data = _utc(row)
    data["resendable"] = use_cases.resendable(row)
    if attempts is not None:
        data["attempt_log"] = [_utc(attempt) for attempt in attempts]
    return data


@blp.route("")
@blp.arguments(DeliveryQuery, location="query", unknown=RAISE)  # a misspelt filter is an error, not ignored
@blp.response(200, DeliveryPageSchema)
def list_deliveries(query):
    """Deliveries, newest first; filter by user_id, status, purpose, channel."""
    with _runtime().uow() as uow:
        total, rows = use_cases.list_deliveries(uow, current_principal(), **query)
        return {"total": total, "items": [_delivery(row) for row in rows]}


@blp.route("/<uuid:delivery_id>")
@blp.response(200, DeliveryDetailSchema)
def get_delivery(delivery_id):
    """One delivery with its attempt log."""
    with _runtime().uow() as uow:
        return _delivery(*use_cases.get_delivery(uow, current_principal(), delivery_id))


@blp.route("/<uuid:delivery_id>/resend", methods=["POST"])
@blp.response(202, DeliveryDetailSchema)
def resend_delivery(delivery_id):
    """Send a failed delivery again (409 unless it failed, or when its link or code has expired)."""
    with _runtime().uow() as uow:
        return _delivery(*use_cases.resend_delivery(uow, current_principal(), delivery_id))
