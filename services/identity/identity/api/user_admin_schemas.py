"""Request and response schemas of user administration (docs/user-administration-api.md)."""
from marshmallow import Schema, fields, validate

from ..domain.user_admin import REVIEW_STATES, STATUSES
from ..domain.users import HOSPITAL_ROLES


class AdminNamedRefSchema(Schema):
    id = fields.UUID()
    name = fields.String()


class AdminDepartmentSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    active = fields.Boolean()


class ReviewStateSchema(Schema):
    last_reviewed_at = fields.DateTime(allow_none=True)
    last_reviewed_by = fields.String(allow_none=True)
    overdue = fields.Boolean()


class AdminHospitalSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    region_name = fields.String()
    departments = fields.List(fields.Nested(AdminDepartmentSchema))
    review = fields.Nested(ReviewStateSchema)


class UserRowSchema(Schema):
    id = fields.UUID()
    username = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String()
    phone_present = fields.Boolean()
    role = fields.String(allow_none=True, metadata={"enum": list(HOSPITAL_ROLES)})
    departments = fields.List(fields.Nested(AdminNamedRefSchema))
    last_login_at = fields.DateTime(allow_none=True)
    mitid_linked = fields.Boolean()
    blocked = fields.Boolean()
    never_logged_in = fields.Boolean()
    email_failed = fields.Boolean()


class HospitalRoleSchema(AdminNamedRefSchema):
    role = fields.String()


class AuditEntrySchema(Schema):
    at = fields.DateTime()
    actor = fields.String()
    action = fields.String(metadata={"enum": ["created", "added_to_hospital", "access_changed", "review_removed",
                                              "unlocked", "phone_changed"]})
    hospital_name = fields.String(allow_none=True)
    before = fields.Dict()
    after = fields.Dict()


class UserDetailSchema(UserRowSchema):
    version = fields.String(metadata={"description": "the version of this hospital's role and departments; "
                                                     "send it back with PUT .../access to refuse a lost update"})
    hospitals = fields.List(fields.Nested(HospitalRoleSchema))
    audit = fields.List(fields.Nested(AuditEntrySchema))


class UserPageSchema(Schema):
    items = fields.List(fields.Nested(UserRowSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class UserListQuerySchema(Schema):
    department = fields.UUID(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES), metadata={
        "description": "the users whose row shows this status: blocked (Keycloak's lock), never_logged_in, "
                       "email_failed (welcome e-mail), active (none of these)"})
    review = fields.String(load_default=None, validate=validate.OneOf(REVIEW_STATES), metadata={
        "description": "changed: access at this hospital created, added or changed after the hospital's last "
                       "documented review (every user when it was never reviewed); unchanged: the others"})
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


class NewUserSchema(Schema):
    """Checked field by field by the use case, so that each error carries its code."""

    username = fields.String(load_default=None, allow_none=True)
    first_name = fields.String(load_default=None, allow_none=True)
    last_name = fields.String(load_default=None, allow_none=True)
    email = fields.String(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True, metadata={"description": "Danish or with country code"})
    role = fields.String(load_default=None, allow_none=True, metadata={"enum": list(HOSPITAL_ROLES)})
    departments = fields.List(fields.UUID(), load_default=list)


class AccessSchema(Schema):
    role = fields.String(load_default=None, allow_none=True, metadata={"enum": list(HOSPITAL_ROLES)})
    departments = fields.List(fields.UUID(), load_default=list)


class AccessChangeSchema(AccessSchema):
    version = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64),
                            metadata={"description": "UserDetail.version the change is based on: 409 "
                                                     "(code changed_meanwhile) when the access changed since. "
                                                     "Without it the last save wins."})


class PhoneSchema(Schema):
    phone = fields.String(required=True, allow_none=True, validate=validate.Length(max=40),
                          metadata={"description": "as typed ('12 34 56 78', '+45 12345678', a foreign number with "
                                                   "its country code); null or empty removes it"})


class SearchQuerySchema(Schema):
    q = fields.String(load_default="")


class SearchHitSchema(Schema):
    id = fields.UUID()
    username = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String()
    hospitals = fields.List(fields.Nested(AdminNamedRefSchema))


class SearchResultSchema(Schema):
    items = fields.List(fields.Nested(SearchHitSchema))
    truncated = fields.Boolean()


class EmptySchema(Schema):
    pass


class RemovedAccessSchema(Schema):
    user = fields.Dict(metadata={"description": "{name, username}"})
    departments = fields.List(fields.String())


class ReviewSchema(Schema):
    id = fields.UUID()
    reviewed_at = fields.DateTime()
    reviewed_by = fields.String()
    removed_since_previous = fields.List(fields.Nested(RemovedAccessSchema))


class ReviewsSchema(ReviewStateSchema):
    history = fields.List(fields.Nested(ReviewSchema))
