"""Transfer requests between departments (E1, E2) and the in-app notices about them."""
import uuid

from flask_smorest import Blueprint

from servicekit.web import current_principal

from ..service import notices as notice_service
from ..service import transfers as service
from . import schemas, views
from .context import runtime

blp = Blueprint("transfers", __name__, url_prefix="/", description="Transfer requests and notices")


@blp.route("/transfers", methods=["POST"])
@blp.arguments(schemas.TransferBody)
@blp.response(201, schemas.TransferSchema(many=True))
@blp.alt_response(409, description="already registered at the caller's department, or a request is pending")
def request_transfer(body):
    """Ask the department(s) a patient is registered at to hand the patient over to one of the
    caller's departments: one request per source department."""
    rt = runtime()
    with rt.uow() as uow:
        created = service.request_transfers(uow, rt.vault, current_principal(), lifetime=rt.transfer_lifetime, **body)
    return [views.transfer(view) for view in created]


@blp.route("/transfers/incoming")
@blp.arguments(schemas.TransferListQuery, location="query")
@blp.response(200, schemas.TransferSchema(many=True))
def incoming(query):
    """Requests to hand over patients of the caller's departments (every department for a registry administrator)."""
    rt = runtime()
    with rt.uow() as uow:
        return [views.transfer(v) for v in service.incoming(uow, rt.vault, current_principal(), **query)]


@blp.route("/transfers/outgoing")
@blp.arguments(schemas.TransferListQuery, location="query")
@blp.response(200, schemas.TransferSchema(many=True))
def outgoing(query):
    """Requests the caller's departments made."""
    rt = runtime()
    with rt.uow() as uow:
        return [views.transfer(v) for v in service.outgoing(uow, rt.vault, current_principal(), **query)]


@blp.route("/transfers/<uuid:transfer_id>")
@blp.response(200, schemas.TransferSchema)
def read(transfer_id: uuid.UUID):
    """One request, for either department (or a registry administrator)."""
    return _view(transfer_id)


def _view(transfer_id: uuid.UUID) -> dict:
    rt = runtime()
    with rt.uow() as uow:
        return views.transfer(service.get_transfer(uow, rt.vault, current_principal(), transfer_id))


@blp.route("/transfers/<uuid:transfer_id>/approve", methods=["POST"])
@blp.arguments(schemas.DecisionBody)
@blp.response(200, schemas.TransferSchema)
def approve(body, transfer_id: uuid.UUID):
    """The source department (or a registry administrator) hands the patient over."""
    with runtime().uow() as uow:
        service.approve(uow, current_principal(), transfer_id, reason=body.get("reason"))
    return _view(transfer_id)


@blp.route("/transfers/<uuid:transfer_id>/reject", methods=["POST"])
@blp.arguments(schemas.DecisionBody)
@blp.response(200, schemas.TransferSchema)
def reject(body, transfer_id: uuid.UUID):
    """The source department (or a registry administrator) refuses, with a reason."""
    with runtime().uow() as uow:
        service.reject(uow, current_principal(), transfer_id, reason=body.get("reason"))
    return _view(transfer_id)


@blp.route("/transfers/<uuid:transfer_id>/cancel", methods=["POST"])
@blp.arguments(schemas.EmptyBody)
@blp.response(200, schemas.TransferSchema)
def cancel(_body, transfer_id: uuid.UUID):
    """The requesting department withdraws its request."""
    with runtime().uow() as uow:
        service.cancel(uow, current_principal(), transfer_id)
    return _view(transfer_id)


@blp.route("/notices")
@blp.arguments(schemas.NoticeQuery, location="query")
@blp.response(200, schemas.NoticeSchema(many=True))
def notices(query):
    """In-app notices to the caller's departments about transfer steps, newest first."""
    rt = runtime()
    with rt.uow() as uow:
        return [views.notice(n) for n in notice_service.list_notices(uow, rt.vault, current_principal(), **query)]


@blp.route("/notices/<uuid:notice_id>/dismiss", methods=["POST"])
@blp.response(204)
def dismiss(notice_id: uuid.UUID):
    """Mark a notice as seen (for the whole department)."""
    with runtime().uow() as uow:
        notice_service.dismiss(uow, current_principal(), notice_id)
