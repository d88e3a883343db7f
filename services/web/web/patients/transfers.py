"""Transfer requests: incoming (the source department approves, or rejects with a reason) and
outgoing (the requester may cancel); and the in-app notices about their steps."""
from __future__ import annotations

from uuid import UUID

from flask import flash, redirect, render_template, request, url_for

from ..adapters.gateway_client import Rejected
from ..auth import login_required
from ..profile import current_profile
from . import bp, client, messages


@bp.get("/overfoersler")
@login_required
def transfer_lists():
    status = request.args.get("status", "pending")
    status = status if status in messages.TRANSFER_STATUSES or status == "all" else "pending"
    wanted = None if status == "all" else status
    return render_template("patients/transfers.html", profile=current_profile(), status=status,
                           incoming=client.incoming(wanted), outgoing=client.outgoing(wanted))


@bp.post("/overfoersler/<uuid:transfer_id>/godkend")
@login_required
def approve(transfer_id: UUID):
    return _decide(transfer_id, "approve", "Overførslen er godkendt. Patienten er nu registreret på {to}.")


@bp.post("/overfoersler/<uuid:transfer_id>/afvis")
@login_required
def reject(transfer_id: UUID):
    if not request.form.get("reason", "").strip():
        flash("Skriv en begrundelse for at afvise anmodningen.", "error")
        return redirect(url_for("patients.transfer_lists"))
    return _decide(transfer_id, "reject", "Anmodningen fra {to} er afvist.")


@bp.post("/overfoersler/<uuid:transfer_id>/annuller")
@login_required
def cancel(transfer_id: UUID):
    try:
        client.cancel(transfer_id)
    except Rejected as error:
        flash(f"Anmodningen kunne ikke trækkes tilbage: {messages.first_error(error)}", "error")
    else:
        flash("Anmodningen er trukket tilbage.", "success")
    return redirect(url_for("patients.transfer_lists"))


def _decide(transfer_id: UUID, verdict: str, done: str):
    try:
        decided = client.decide(transfer_id, verdict, reason=request.form.get("reason", "").strip() or None)
    except Rejected as error:
        flash(f"Anmodningen kunne ikke afgøres: {messages.first_error(error)}", "error")
    else:
        flash(done.format(to=messages.department_label(decided["to_department"])), "success")
    return redirect(url_for("patients.transfer_lists"))


@bp.get("/meddelelser")
@login_required
def notices():
    show_all = request.args.get("vis") == "alle"
    return render_template("patients/notices.html", profile=current_profile(), show_all=show_all,
                           notices=client.notices(include_dismissed=show_all))


@bp.post("/meddelelser/<uuid:notice_id>/set")
@login_required
def dismiss(notice_id: UUID):
    client.dismiss_notice(notice_id)
    flash("Meddelelsen er markeret som set.", "success")
    return redirect(url_for("patients.notices"))
