"""The caller's own links to MitID and the regions' IdPs (requirement D): state, the check after
linking, unlinking, and the record of a federated login."""
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from servicekit.web import current_principal

from ..adapters.keycloak_federation import KeycloakFederation
from ..service import federation

blp = Blueprint("federation", __name__, url_prefix="/me/federation",
                description="The calling user's links to MitID and the regions' own identity providers")


class LinkSchema(Schema):
    alias = fields.String(metadata={"enum": ["mitid", "region-midt", "region-syd", "region-nord"]})
    linked = fields.Boolean()
    upstream_username = fields.String(allow_none=True)
    organisation_name = fields.String(allow_none=True)
    organisation_cvr = fields.String(allow_none=True)
    health_authorisation = fields.String(allow_none=True)


class LinksSchema(Schema):
    links = fields.List(fields.Nested(LinkSchema))


def _run(use_case, *args):
    runtime = current_app.extensions["danbio.runtime"]
    with runtime.uow() as uow:
        return use_case(uow, KeycloakFederation(current_app.extensions["identity.directory"]), current_principal(),
                        *args)


@blp.route("")
@blp.response(200, LinksSchema)
def get_links():
    """Each identity provider: linked or not, and the profile (organisation, authorisation) linked."""
    return {"links": _run(federation.link_status)}


@blp.route("/<alias>/check", methods=["POST"])
@blp.response(200, LinkSchema)
def check(alias):
    """After Keycloak linked ``alias``: 200 if the profile carries a health-professional authorisation
    tied to an organisation; otherwise the link is removed and 422 says why (codes.profile:
    missing_authorisation, missing_organisation or missing_professional_id; codes.link: not_linked)."""
    return _run(federation.check_link, alias)


@blp.route("/<alias>", methods=["DELETE"])
@blp.response(204)
def delete(alias):
    """Remove the link (and the claims it left); audited."""
    _run(federation.unlink, alias)


@blp.route("/<alias>/logins", methods=["POST"])
@blp.response(204)
def login(alias):
    """The web UI reports a login through ``alias``: audited; 422 (and the user's Keycloak sessions
    ended) if the link is gone or its profile no longer qualifies."""
    _run(federation.record_login, alias)
