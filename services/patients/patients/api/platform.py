"""The patient platform's status reports (its own machine client, through the gateway)."""
from flask_smorest import Blueprint

from servicekit.web import current_principal

from ..service import platform as service
from . import schemas
from .context import runtime

blp = Blueprint("platform", __name__, url_prefix="/platform", description="Patient platform integration")


@blp.route("/status", methods=["POST"])
@blp.arguments(schemas.StatusReportBody)
@blp.response(200, schemas.StatusReportOutcomeSchema)
def report(body):
    """Report a patient "active" or "inactive" on the platform as of ``reported_at``. Idempotent;
    a report older than the status held is kept in the history only (``outcome: stale``)."""
    rt = runtime()
    with rt.uow() as uow:
        result = service.report_status(uow, rt.vault, current_principal(), **body)
    return {"outcome": result.outcome, "current": result.current}
