"""Search ("Søgemuligheder"): patients of the user's own departments by CPR (exact) or name (part
of it). The form posts, so a CPR never lands in a URL; the answer is the result page itself (a
search changes nothing, so there is nothing to redirect after)."""
from __future__ import annotations

from flask import render_template, request

from ..adapters.gateway_client import Rejected
from ..auth import login_required
from ..profile import current_profile
from . import bp, client, messages


@bp.route("/patienter/soeg", methods=["GET", "POST"])
@login_required
def search():
    profile = current_profile()
    departments = client.my_departments()
    form = {key: request.form.get(key, "").strip() for key in ("criterion", "department_id")}
    form["kind"] = request.form.get("kind", "name")
    results, errors = None, {}
    if request.method == "POST":
        criterion = form["criterion"]
        # A whole CPR typed as a name is searched as the CPR it is (and not echoed back).
        kind = "cpr" if form["kind"] == "cpr" or messages.complete_cpr(criterion) else "name"
        if not criterion:
            errors["criterion"] = messages.CODES["required"]
        elif kind == "cpr" and not messages.complete_cpr(criterion):
            errors["criterion"] = messages.CODES["cpr_format"]
        else:
            try:
                results = client.search(**{kind: criterion}, department_id=form["department_id"] or None)
            except Rejected as error:
                errors["criterion"] = messages.first_error(error)
        if kind == "cpr" or errors.get("criterion") == messages.CODES["cpr_in_name"]:
            form["criterion"] = ""  # the number is not sent back to the browser in the page
    return render_template("patients/search.html", profile=profile, departments=departments, form=form,
                           results=results, errors=errors), 422 if errors else 200
