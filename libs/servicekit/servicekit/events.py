"""The event envelope every message on the bus carries, and its (de)serialisation.

``id`` is the idempotency key; ``type`` is also the routing key; ``data`` is validated against the
contract registered for (type, version) both when an event is created and when it is consumed.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from . import contracts
from .errors import ContractError
from .logs import current_correlation_id


@dataclass(frozen=True)
class Envelope:
    type: str
    data: dict[str, Any]
    producer: str
    version: int = 1
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    correlation_id: str = field(default_factory=current_correlation_id)

    def to_json(self) -> str:
        return json.dumps(ENVELOPE_SCHEMA.dump(self), ensure_ascii=False, separators=(",", ":"))


class EnvelopeSchema(Schema):
    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]+\.[a-z_]+\.[a-z_]+$"))
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True, default_timezone=timezone.utc)
    producer = fields.String(required=True, validate=validate.Length(min=1, max=64))
    correlation_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    data = fields.Dict(required=True)


ENVELOPE_SCHEMA = EnvelopeSchema()  # schemas are reusable; building one per message is not free


def new_event(event_type: str, data: dict[str, Any], *, producer: str, version: int = 1) -> Envelope:
    """An envelope whose data has been checked against, and normalised by, its contract."""
    return Envelope(type=event_type, version=version, producer=producer,
                    data=contracts.validate(event_type, version, data))


def parse_event(body: bytes | str) -> Envelope:
    """Decode a message body into an Envelope, or raise ContractError saying what is wrong."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError("message body is not JSON") from exc
    if not isinstance(raw, dict):
        raise ContractError("message body is not a JSON object")
    try:
        loaded = ENVELOPE_SCHEMA.load(raw)
    except ValidationError as exc:
        raise ContractError(f"envelope invalid: {sorted(exc.messages)}") from exc
    loaded["data"] = contracts.validate(loaded["type"], loaded["version"], loaded["data"])
    return Envelope(**loaded)
