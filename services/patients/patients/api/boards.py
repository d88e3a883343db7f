"""A department's patients: the board ("Patienttavle Graf") and the list with platform status."""
import uuid

from flask_smorest import Blueprint

from servicekit.web import current_principal

from ..service import patients as service
from . import schemas, views
from .context import runtime

blp = Blueprint("boards", __name__, url_prefix="/departments", description="A department's patients")


@blp.route("/<uuid:department_id>/board")
@blp.response(200, schemas.BoardSchema)
def board(department_id: uuid.UUID):
    """Counts by diagnosis group and platform status (active, inactive, unknown)."""
    with runtime().uow() as uow:
        return views.board(service.department_board(uow, current_principal(), department_id))


@blp.route("/<uuid:department_id>/patients")
@blp.arguments(schemas.DepartmentPatientsQuery, location="query")
@blp.response(200, schemas.DepartmentPatientsSchema)
def patients(query, department_id: uuid.UUID):
    """The department's current patients by name, with platform status (app-integration page). Audited."""
    rt = runtime()
    with rt.uow() as uow:
        found = service.department_patients(uow, rt.vault, current_principal(), department_id, **query)
    return {"department": views.department(found.department), "total": found.total,
            "items": [views.summary(item) for item in found.items]}
