"""Request and response bodies of the patients API (marshmallow; the OpenAPI document is built
from them). A CPR number is only ever a body field: never a path or query parameter."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from ..domain.patients import DIAGNOSIS_GROUPS
from ..domain.platform import LABELS, STATUSES
from ..domain.transfers import NOTICE_KINDS, STATUSES as TRANSFER_STATUSES

CPR_FIELD = {"description": "DDMMYY-SSSS or 10 digits", "example": "010190-1234"}


class Body(Schema):
    class Meta:
        unknown = RAISE


# --- requests ------------------------------------------------------------------------------------

class CprBody(Body):
    cpr = fields.String(required=True, validate=validate.Length(max=32), metadata=CPR_FIELD)


# No schema length on a patient's name: a limit here answered before the domain's, without the
# name_length code, and the web UI could only say "Værdien er ikke gyldig" for a 1,000-character
# name (issue 10, abuse suite). The request body is bounded by MAX_CONTENT_LENGTH all the same.
NAME_FIELD = {"description": "1-200 characters once runs of spaces are one (the domain checks it: code name_length)"}


class NewPatientBody(Body):
    cpr = fields.String(required=True, validate=validate.Length(max=32), metadata=CPR_FIELD)
    name = fields.String(required=True, metadata=NAME_FIELD)
    diagnosis_group = fields.String(required=True, validate=validate.OneOf(DIAGNOSIS_GROUPS))
    department_id = fields.UUID(required=True, metadata={"description": "one of the caller's departments"})


class PatientChangeBody(Body):
    name = fields.String(metadata=NAME_FIELD)
    diagnosis_group = fields.String(validate=validate.OneOf(DIAGNOSIS_GROUPS))


class SearchBody(Body):
    cpr = fields.String(validate=validate.Length(max=32), metadata={**CPR_FIELD, "description": "exact; or name"})
    name = fields.String(validate=validate.Length(max=200), metadata={"description": "part of the name; or cpr"})
    department_id = fields.UUID(metadata={"description": "only this one of the caller's departments"})


class DepartmentPatientsQuery(Body):
    platform_status = fields.String(validate=validate.OneOf((*STATUSES, "unknown")))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class TransferBody(Body):
    cpr = fields.String(required=True, validate=validate.Length(max=32), metadata=CPR_FIELD)
    from_department_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=20),
                                      metadata={"description": "the department(s) to take the patient over from"})
    to_department_id = fields.UUID(required=True, metadata={"description": "one of the caller's departments"})


class DecisionBody(Body):
    reason = fields.String(validate=validate.Length(max=1000), metadata={"description": "required to reject"})


class EmptyBody(Body):
    pass


class TransferListQuery(Body):
    department_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(TRANSFER_STATUSES))


class NoticeQuery(Body):
    department_id = fields.UUID()
    include_dismissed = fields.Boolean(load_default=False)


class StatusReportBody(Body):
    cpr = fields.String(required=True, validate=validate.Length(max=32), metadata=CPR_FIELD)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reported_at = fields.AwareDateTime(required=True, metadata={"description": "the platform's own time of the status"})


class PageQuery(Body):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


# --- responses -----------------------------------------------------------------------------------

class DepartmentRefSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    hospital_name = fields.String()


def _label(value) -> str:
    return LABELS[value["status"] if isinstance(value, dict) else value.status]


class PlatformStatusSchema(Schema):
    status = fields.String(metadata={"enum": list(STATUSES)})
    label = fields.Function(_label, metadata={"description": "Aktiv / Inaktiv"})
    reported_at = fields.DateTime()


class RegistrationSchema(Schema):
    department = fields.Nested(DepartmentRefSchema)
    active = fields.Boolean()
    registered_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    ended_reason = fields.String(allow_none=True, metadata={"description": "transferred"})
    transfer_id = fields.UUID(allow_none=True)


class PatientSchema(Schema):
    id = fields.UUID()
    cpr = fields.String(metadata={"description": "the full number: the patient page only"})
    cpr_masked = fields.String(metadata={"example": "010190-xxxx"})
    name = fields.String()
    diagnosis_group = fields.String(metadata={"enum": list(DIAGNOSIS_GROUPS)})
    created_at = fields.DateTime()
    platform_status = fields.Nested(PlatformStatusSchema, allow_none=True)
    registrations = fields.List(fields.Nested(RegistrationSchema), metadata={"description": "current and past"})


class PatientSummarySchema(Schema):
    id = fields.UUID()
    cpr_masked = fields.String()
    name = fields.String()
    diagnosis_group = fields.String()
    platform_status = fields.Nested(PlatformStatusSchema, allow_none=True)
    departments = fields.List(fields.Nested(DepartmentRefSchema),
                              metadata={"description": "the caller's departments the patient is registered at"})


class LookupSchema(Schema):
    cpr_masked = fields.String()
    modulus11_valid = fields.Boolean(metadata={"description": "false is allowed: such numbers are issued"})
    known = fields.Boolean()
    patient_id = fields.UUID(allow_none=True, metadata={"description": "set when the caller may open the patient"})
    your_departments = fields.List(fields.Nested(DepartmentRefSchema))
    other_departments = fields.List(fields.Nested(DepartmentRefSchema),
                                    metadata={"description": "registered elsewhere: department names only"})


class BoardCellSchema(Schema):
    diagnosis_group = fields.String()
    platform_status = fields.String(metadata={"enum": [*STATUSES, "unknown"]})
    count = fields.Integer()


class BoardSchema(Schema):
    department = fields.Nested(DepartmentRefSchema)
    total = fields.Integer()
    by_diagnosis = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_platform_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    cells = fields.List(fields.Nested(BoardCellSchema))


class DepartmentPatientsSchema(Schema):
    department = fields.Nested(DepartmentRefSchema)
    total = fields.Integer()
    items = fields.List(fields.Nested(PatientSummarySchema))


class ActorSchema(Schema):
    subject = fields.String()
    username = fields.String()


class TransferSchema(Schema):
    id = fields.UUID()
    status = fields.String(metadata={"enum": list(TRANSFER_STATUSES)})
    patient_id = fields.UUID(allow_none=True, metadata={"description": "set when the caller may open the patient"})
    cpr_masked = fields.String()
    patient_name = fields.String(allow_none=True)
    from_department = fields.Nested(DepartmentRefSchema)
    to_department = fields.Nested(DepartmentRefSchema)
    requested_by = fields.Nested(ActorSchema)
    requested_at = fields.DateTime()
    expires_at = fields.DateTime()
    decided_by = fields.Nested(ActorSchema, allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    reason = fields.String(allow_none=True)


class NoticeTransferSchema(Schema):
    id = fields.UUID()
    status = fields.String()
    cpr_masked = fields.String()
    from_department = fields.Nested(DepartmentRefSchema)
    to_department = fields.Nested(DepartmentRefSchema)
    reason = fields.String(allow_none=True)


class NoticeSchema(Schema):
    id = fields.UUID()
    kind = fields.String(metadata={"enum": list(NOTICE_KINDS)})
    department = fields.Nested(DepartmentRefSchema)
    created_at = fields.DateTime()
    dismissed_at = fields.DateTime(allow_none=True)
    transfer = fields.Nested(NoticeTransferSchema)


class StatusReportOutcomeSchema(Schema):
    outcome = fields.String(metadata={"enum": ["applied", "stale", "duplicate"]})
    current = fields.Nested(PlatformStatusSchema, allow_none=True)


class StatusReportSchema(PlatformStatusSchema):
    received_at = fields.DateTime()


class StatusHistorySchema(Schema):
    patient_id = fields.UUID()
    current = fields.Nested(PlatformStatusSchema, allow_none=True)
    history = fields.List(fields.Nested(StatusReportSchema), metadata={"description": "newest report first"})


class AuditEntrySchema(Schema):
    occurred_at = fields.DateTime()
    actor = fields.Nested(ActorSchema)
    actor_kind = fields.String(metadata={"enum": ["user", "client", "system"]})
    action = fields.String()
    department_id = fields.UUID(allow_none=True)
    transfer_id = fields.UUID(allow_none=True)
    details = fields.Dict()
