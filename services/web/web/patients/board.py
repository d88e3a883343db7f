"""E2: a department's board, "Patienttavle Graf" — counts by diagnosis group and platform status
with a chart — and at its top "Overblik", whose link "Request to import" asks to take over a
patient registered at another department (found by CPR)."""
from __future__ import annotations

from uuid import UUID

from flask import redirect, render_template, request, url_for
from markupsafe import Markup

from ..adapters.gateway_client import Rejected
from ..auth import login_required
from ..profile import current_profile
from . import bp, chart, client, messages
from .create import start_transfer_draft


def choose_department(endpoint: str, title: str):
    """The user's one department's page, or a choice between them."""
    departments = client.my_departments()
    if len(departments) == 1:
        return redirect(url_for(endpoint, department_id=departments[0]["id"]))
    return render_template("patients/choose_department.html", profile=current_profile(), departments=departments,
                           endpoint=endpoint, title=title)


@bp.get("/patienttavle")
@login_required
def boards():
    return choose_department("patients.board", "Patienttavle Graf")


@bp.get("/afdelinger/<uuid:department_id>/patienttavle")
@login_required
def board(department_id: UUID):
    profile = current_profile()
    found = client.board(department_id)
    label = messages.department_label(found["department"])
    svg = Markup(chart.render(found["cells"], f"Patienter på {label} efter diagnosegruppe og kiosk status"))
    counts = {(c["diagnosis_group"], c["platform_status"]): c["count"] for c in found["cells"]}
    return render_template("patients/board.html", profile=profile, board=found, label=label, chart=svg,
                           counts=counts, department_id=department_id)


@bp.get("/afdelinger/<uuid:department_id>/overblik")
@login_required
def overview(department_id: UUID):
    profile = current_profile()
    found = client.board(department_id)
    pending_in = [t for t in client.incoming("pending") if str(t["from_department"]["id"]) == str(department_id)]
    pending_out = [t for t in client.outgoing("pending") if str(t["to_department"]["id"]) == str(department_id)]
    return render_template("patients/overview.html", profile=profile, board=found,
                           label=messages.department_label(found["department"]), department_id=department_id,
                           pending_in=pending_in, pending_out=pending_out)


@bp.route("/afdelinger/<uuid:department_id>/import", methods=["GET", "POST"])
@login_required
def request_import(department_id: UUID):
    """"Request to import": the CPR of a patient registered elsewhere, then the transfer step."""
    profile = current_profile()
    department = next((d for d in client.my_departments() if str(d["id"]) == str(department_id)), None)
    if department is None:
        return render_template("error.html", title="Ingen adgang",
                               message="Du kan kun anmode om at overtage patienter til dine egne afdelinger."), 403
    error = None
    if request.method == "POST":
        cpr = request.form.get("cpr", "").strip()
        if not messages.complete_cpr(cpr):
            error = messages.CODES["cpr_format"]
        else:
            try:
                found = client.lookup(cpr)
            except Rejected as rejected:
                error = messages.first_error(rejected)
            else:
                registered_here = any(str(d["id"]) == str(department_id) for d in found["your_departments"])
                if not found["known"]:
                    error = messages.CODES["cpr_unknown"]
                elif registered_here:
                    error = messages.CODES["registered_here"]
                else:
                    start_transfer_draft(found, cpr=cpr, to_department=department,
                                         origin=url_for("patients.request_import", department_id=department_id))
                    return redirect(url_for("patients.transfer_sources"))
    return render_template("patients/import.html", profile=profile, department=department,
                           label=messages.department_label(department), department_id=department_id,
                           error=error), 422 if error else 200
