"""The caller's own profile."""
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from servicekit.web import current_principal

from ..service.profiles import my_profile

blp = Blueprint("me", __name__, url_prefix="/", description="The calling user's own profile")


class HospitalRefSchema(Schema):
    id = fields.UUID()
    code = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class DepartmentRefSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    active = fields.Boolean()


class MembershipSchema(Schema):
    hospital = fields.Nested(HospitalRefSchema)
    role = fields.String(metadata={"enum": ["local_admin", "clinician", "secretary"]})
    departments = fields.List(fields.Nested(DepartmentRefSchema))


class ProfileSchema(Schema):
    id = fields.UUID()
    username = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String()
    phone = fields.String(allow_none=True, metadata={"description": "E.164"})
    locale = fields.String()
    registry_admin = fields.Boolean()
    created_at = fields.DateTime()
    last_login_at = fields.DateTime(allow_none=True)
    roles = fields.List(fields.String(), metadata={"description": "registry_admin, local_admin, clinician, secretary"})
    memberships = fields.List(fields.Nested(MembershipSchema))


@blp.route("/me")
@blp.response(200, ProfileSchema)
def get_me():
    """The calling user's profile, hospitals with role, departments, roles."""
    with current_app.extensions["danbio.runtime"].uow() as uow:
        return my_profile(uow, current_principal())
