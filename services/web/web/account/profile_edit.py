""""Ret brugerprofil" → "Ret mine oplysninger": names, e-mail and phone → "Gem ændringer"."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from ..adapters.gateway_client import Rejected
from ..api import api
from ..auth import login_required
from ..profile import current_profile
from . import bp
from .messages import PROFILE_CODES, SOMETHING_WRONG, codes_of

FIELDS = ("first_name", "last_name", "email", "phone")


@bp.get("/profil/ret")
@login_required
def edit_profile():
    profile = current_profile()
    values = {field: profile.data.get(field) or "" for field in FIELDS}
    return render_template("account/profile_edit.html", profile=profile, values=values, errors={})


@bp.post("/profil/ret")
@login_required
def save_profile():
    values = {field: request.form.get(field, "").strip() for field in FIELDS}
    try:
        api("PUT", "/api/identity/me", json={**values, "phone": values["phone"] or None})
    except Rejected as refused:
        if refused.status not in (409, 422):
            raise
        codes = codes_of(refused)
        errors = {field: PROFILE_CODES.get(codes.get(field, ""), SOMETHING_WRONG)
                  for field in FIELDS if field in codes or field in refused.field_errors}
        return render_template("account/profile_edit.html", profile=current_profile(), values=values,
                               errors=errors or {"form": SOMETHING_WRONG}), refused.status
    flash("Dine oplysninger er gemt.")
    return redirect(url_for("pages.profile"))
