"""The gateway's question: who is the user behind this Keycloak subject? (internal)"""
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from servicekit.web import current_principal

from ..service.profiles import principal_for_subject

blp = Blueprint("principals", __name__, url_prefix="/internal",
                description="For the gateway only: the principal of a Keycloak subject")


class PrincipalMembershipSchema(Schema):
    hospital_id = fields.String()
    role = fields.String()
    departments = fields.List(fields.String())


class PrincipalSchema(Schema):
    """servicekit.principal.Principal.to_dict()"""

    sub = fields.String(metadata={"description": "identity's user id"})
    kind = fields.String()
    username = fields.String()
    registry_admin = fields.Boolean()
    client_roles = fields.List(fields.String())
    memberships = fields.List(fields.Nested(PrincipalMembershipSchema))


@blp.route("/principals/<string:subject>")
@blp.response(200, PrincipalSchema)
def get_principal(subject: str):
    """The principal of the user (or machine client's service account) with this Keycloak subject
    (`sub` of the access token)."""
    machine_clients = current_app.extensions["identity.machine_clients"]
    with current_app.extensions["danbio.runtime"].uow() as uow:
        return principal_for_subject(uow, current_principal(), subject, machine_clients.principal).to_dict()
