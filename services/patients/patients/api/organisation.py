"""Read-only organisation endpoints: regions and departments (reference data)."""
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from servicekit.web import current_principal

from ..adapters import organisation_repository as repo

blp = Blueprint("organisation", __name__, url_prefix="/", description="Regions, hospitals and departments")


class RegionSchema(Schema):
    code = fields.String()
    name = fields.String()


class HospitalSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    region = fields.Nested(RegionSchema)


class DepartmentSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    active = fields.Boolean()
    revision = fields.Integer()
    hospital = fields.Nested(HospitalSchema)


@blp.route("/regions")
@blp.response(200, RegionSchema(many=True))
def list_regions():
    with current_app.extensions["danbio.runtime"].uow() as uow:
        return repo.list_regions(uow.session)


class DepartmentQuery(Schema):
    mine = fields.Boolean(load_default=False, metadata={"description": "only the caller's own departments"})


@blp.route("/departments")
@blp.arguments(DepartmentQuery, location="query")
@blp.response(200, DepartmentSchema(many=True))
def list_departments(query):
    with current_app.extensions["danbio.runtime"].uow() as uow:
        departments = repo.list_departments(uow.session)
    if query["mine"]:
        own = current_principal().departments
        departments = [d for d in departments if d.id in own]
    return departments
