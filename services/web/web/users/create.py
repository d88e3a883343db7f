"""A1 "Opret bruger" and A2 "AVANCERET" → "Tilføj bruger til eget hospital"."""
from __future__ import annotations

from uuid import UUID

from flask import flash, redirect, render_template, request, url_for

from ..adapters.gateway_client import GatewayUnavailable, Rejected
from ..auth import login_required
from . import bp, client
from .context import hospital, page_context
from .messages import CODES, field_errors, general_errors

CREATE_FIELDS = {"username", "first_name", "last_name", "email", "phone", "role", "departments"}
UNAVAILABLE = "Login-tjenesten svarer ikke lige nu, så intet blev gemt. Vent lidt, og prøv igen."


def _form_value(name: str, limit: int = 1000) -> str:
    # Above every field's maximum (e-mail: 254), so identity refuses what is too long instead of the
    # page silently storing a cut value (issue 10: a 230-character e-mail address was cut to 200).
    return (request.form.get(name) or "").strip()[:limit]


@bp.route("/<uuid:hospital_id>/opret", methods=["GET", "POST"])
@login_required
def create(hospital_id: UUID):
    current = hospital(hospital_id)
    form = {"role": "clinician"}
    chosen: list[str] = []
    errors: dict[str, str] = {}
    problems: list[str] = []
    if request.method == "POST":
        form = {name: _form_value(name) for name in ("username", "first_name", "last_name", "email", "phone", "role")}
        chosen = request.form.getlist("departments")
        body = {**form, "phone": form["phone"] or None, "departments": chosen}
        try:
            created = client.create_user(hospital_id, body)
        except Rejected as error:
            errors = field_errors(error) or {"": "Brugeren kunne ikke oprettes. Kontrollér felterne, og prøv igen."}
            problems = general_errors(errors, CREATE_FIELDS)
        except GatewayUnavailable:
            problems = [UNAVAILABLE]
        else:
            flash(f"Brugeren {created.get('username') or form['username']} er oprettet og får en e-mail med, "
                  "hvordan man logger ind.", "success")
            return redirect(url_for("users.detail", hospital_id=hospital_id, user_id=created["id"]))
    status = 422 if errors else 503 if problems else 200
    return render_template("users_create.html", **page_context(current, form=form, chosen=set(chosen),
                                                                errors=errors, problems=problems)), status


@bp.get("/<uuid:hospital_id>/avanceret")
@login_required
def search(hospital_id: UUID):
    """All users of the registry by username or e-mail, showing only what an administrator of
    another hospital may see (identity decides which fields those are)."""
    current = hospital(hospital_id)
    term = (request.args.get("q") or "").strip()[:100]
    found, truncated, error = None, False, None
    if term:
        if len(term) < 3:
            error = CODES["term_too_short"]
        else:
            try:
                answer = client.search_all(term)
            except Rejected as refused:
                error = field_errors(refused).get("q") or CODES["term_too_short"]
            else:
                found, truncated = answer.get("items") or [], bool(answer.get("truncated"))
    return render_template("users_search.html", **page_context(current, term=term, found=found, truncated=truncated,
                                                                error=error)), 422 if error else 200


def _found_user(term: str, user_id: UUID) -> dict | None:
    """The user as the search shows them (the add page has no other way to see a user of another
    hospital: identity only lets an administrator look closer at users of their own hospitals)."""
    if len(term) < 3:
        return None
    try:
        items = client.search_all(term).get("items") or []
    except Rejected:
        return None
    return next((item for item in items if str(item.get("id")) == str(user_id)), None)


@bp.route("/<uuid:hospital_id>/tilfoej/<uuid:user_id>", methods=["GET", "POST"])
@login_required
def add(hospital_id: UUID, user_id: UUID):
    current = hospital(hospital_id)
    term = (request.values.get("q") or "").strip()[:100]
    role = "clinician"
    chosen: list[str] = []
    errors: dict[str, str] = {}
    problems: list[str] = []
    if request.method == "POST":
        role = _form_value("role") or "clinician"
        chosen = request.form.getlist("departments")
        try:
            client.add_to_hospital(hospital_id, user_id, role=role, departments=chosen)
        except Rejected as error:
            errors = field_errors(error) or {"": "Brugeren kunne ikke tilføjes. Prøv igen."}
            problems = general_errors(errors, {"role", "departments"})
        else:
            flash(f"Brugeren er tilføjet til {current.name}. Brugeren beholder sit login og sin adgang andre steder.",
                  "success")
            return redirect(url_for("users.detail", hospital_id=hospital_id, user_id=user_id))
    found = _found_user(term, user_id)
    return render_template("users_add.html", **page_context(current, found=found, user_id=user_id, term=term, role=role,
                                                             chosen=set(chosen), errors=errors, problems=problems)), \
        422 if errors else 200
