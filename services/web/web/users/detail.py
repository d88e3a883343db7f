"""The user's page (access here and elsewhere, audit history) and A3 "Rediger bruger" →
"Gem ændringer"."""
from __future__ import annotations

from uuid import UUID

from flask import flash, redirect, render_template, request, url_for

from ..adapters.gateway_client import Rejected
from ..auth import login_required
from . import bp, client
from .context import hospital, page_context
from .messages import field_errors, general_errors


@bp.get("/<uuid:hospital_id>/bruger/<uuid:user_id>")
@login_required
def detail(hospital_id: UUID, user_id: UUID):
    current = hospital(hospital_id)
    user = client.user(hospital_id, user_id)
    return render_template("users_detail.html", **page_context(current, user=user, errors={}, phone=""))


@bp.post("/<uuid:hospital_id>/bruger/<uuid:user_id>/telefon")
@login_required
def phone(hospital_id: UUID, user_id: UUID):
    """"Gem telefonnummer": the administrator adds (or changes) the user's phone, e.g. after "e-mail fejlet"."""
    current = hospital(hospital_id)
    typed = (request.form.get("phone") or "").strip()
    try:
        client.change_phone(hospital_id, user_id, typed)
    except Rejected as error:
        errors = field_errors(error) or {"phone": "Telefonnummeret kunne ikke gemmes. Prøv igen."}
        user = client.user(hospital_id, user_id)
        return render_template("users_detail.html", **page_context(current, user=user, errors=errors,
                                                                    phone=typed)), 422
    flash("Telefonnummeret er gemt." if typed else "Telefonnummeret er fjernet.", "success")
    return redirect(url_for("users.detail", hospital_id=hospital_id, user_id=user_id))


def _form_values(user: dict) -> tuple[str, set[str], str | None]:
    """The edit form's role, ticked departments and version, from the user as identity has them."""
    return (user.get("role") or "clinician", {str(department["id"]) for department in user.get("departments") or []},
            user.get("version"))


@bp.route("/<uuid:hospital_id>/bruger/<uuid:user_id>/rediger", methods=["GET", "POST"])
@login_required
def edit(hospital_id: UUID, user_id: UUID):
    current = hospital(hospital_id)
    errors: dict[str, str] = {}
    problems: list[str] = []
    if request.method == "POST":
        role = (request.form.get("role") or "").strip()
        chosen = set(request.form.getlist("departments"))
        # What the form was based on: identity refuses the save if another administrator changed the
        # user's access here in between (a lost update could re-grant access just taken away).
        version = request.form.get("version") or None
        try:
            client.change_access(hospital_id, user_id, role=role, departments=sorted(chosen), version=version)
        except Rejected as error:
            errors = field_errors(error) or {"": "Ændringerne kunne ikke gemmes. Prøv igen."}
            problems = general_errors(errors, {"role", "departments"})
            # The user is only read to show the form again (a save that works never needs it).
            user = client.user(hospital_id, user_id)
            if "version" in errors:  # show what is there now, to be edited again
                role, chosen, version = _form_values(user)
        else:
            if not chosen:
                flash(f"Brugeren har ikke længere adgang til nogen afdeling på {current.name} og er fjernet "
                      "fra hospitalet.", "success")
                return redirect(url_for("users.listing", hospital_id=hospital_id))
            flash("Ændringerne er gemt.", "success")
            return redirect(url_for("users.detail", hospital_id=hospital_id, user_id=user_id))
    else:
        user = client.user(hospital_id, user_id)
        role, chosen, version = _form_values(user)
    status = (409 if "version" in errors else 422) if errors else 200
    return render_template("users_edit.html", **page_context(current, user=user, role=role, chosen=chosen,
                                                              version=version, errors=errors,
                                                              problems=problems)), status
