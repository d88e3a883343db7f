"""identity's view of the departments users can be given access to."""
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from ..adapters import department_repository as repo

blp = Blueprint("departments", __name__, url_prefix="/", description="Departments known to identity")


class DepartmentSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    active = fields.Boolean()
    hospital_id = fields.UUID()
    hospital_code = fields.String()
    hospital_name = fields.String()
    region_code = fields.String()
    region_name = fields.String()
    revision = fields.Integer()


@blp.route("/departments")
@blp.response(200, DepartmentSchema(many=True))
def list_departments():
    with current_app.extensions["danbio.runtime"].uow() as uow:
        return repo.list_all(uow.session)
