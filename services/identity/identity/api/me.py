"""The caller's own profile."""
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from servicekit.web import current_principal

from ..service.profile_changes import update_my_profile
from ..service.profiles import my_profile, record_login

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


class ProfileChangeSchema(Schema):
    # The lengths are checked (and documented) once, by service/profile_changes.py, with a code per
    # field: a schema limit here answered first, without codes, and the web UI could only say
    # "something is wrong" for a 1,000-character name (issue 10, abuse suite).
    first_name = fields.String(required=True, metadata={"maxLength": 100})
    last_name = fields.String(required=True, metadata={"maxLength": 100})
    email = fields.String(required=True, metadata={"maxLength": 254})
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40),
                          metadata={"description": "as typed: '12 34 56 78', '+45 12345678', '004512345678', "
                                                   "or a foreign number with its country code; empty removes it"})


@blp.route("/me", methods=["PUT"])
@blp.arguments(ProfileChangeSchema)
@blp.response(200, ProfileSchema)
def put_me(body):
    """Change the caller's names, e-mail and phone (stored as E.164). A changed phone or e-mail sends
    a notice to the previous one (identity.user.contact_changed). 422/409 carry per-field codes."""
    with current_app.extensions["danbio.runtime"].uow() as uow:
        return update_my_profile(uow, current_app.extensions["identity.directory"], current_principal(), **body)


@blp.route("/me/logins", methods=["POST"])
@blp.response(204)
def post_login():
    """The caller has just logged in (the web UI reports each login): kept as their last login."""
    with current_app.extensions["danbio.runtime"].uow() as uow:
        record_login(uow, current_principal())
