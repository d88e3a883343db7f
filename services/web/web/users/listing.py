"""A4/G: "Brugere" — the users of a hospital with filters and search; the blocked users with
"Nulstil kode"."""
from __future__ import annotations

import math
from uuid import UUID

from flask import abort, flash, redirect, render_template, request, url_for

from ..auth import login_required
from . import bp, client
from .context import administered_hospitals, administrator, hospital, page_context
from .messages import REVIEW_STATES, STATUSES

PER_PAGE = 25
STATUS_VALUES = {value for value, _ in STATUSES}
REVIEW_VALUES = {value for value, _ in REVIEW_STATES}


@bp.get("")
@login_required
def index():
    """The administrator's hospital; a registry administrator (or one of several hospitals)
    chooses it with the ?hospital= selector on the page."""
    hospitals = administered_hospitals()
    chosen = request.args.get("hospital")
    if chosen:
        try:
            return redirect(url_for("users.listing", hospital_id=UUID(chosen)))
        except ValueError:
            abort(404)
    if not hospitals:
        return render_template("users_none.html", profile=administrator())
    return redirect(url_for("users.listing", hospital_id=hospitals[0].id))


def _filters() -> dict:
    status = request.args.get("status") or None
    review = request.args.get("gennemgang") or None
    department = request.args.get("afdeling") or None
    try:
        department = str(UUID(department)) if department else None
    except ValueError:
        department = None
    try:
        page = max(1, int(request.args.get("side", "1")))
    except ValueError:
        page = 1
    return {"status": status if status in STATUS_VALUES else None, "department": department,
            "review": review if review in REVIEW_VALUES else None,
            "q": (request.args.get("q") or "").strip()[:100] or None, "page": page}


@bp.get("/<uuid:hospital_id>")
@login_required
def listing(hospital_id: UUID):
    current = hospital(hospital_id)
    filters = _filters()
    answer = client.users(hospital_id, department=filters["department"], status=filters["status"],
                          review=filters["review"], q=filters["q"], page=filters["page"], per_page=PER_PAGE)
    total = int(answer.get("total") or 0)
    pages = max(1, math.ceil(total / int(answer.get("per_page") or PER_PAGE)))
    query = {"afdeling": filters["department"], "status": filters["status"], "gennemgang": filters["review"],
             "q": filters["q"]}
    query = {key: value for key, value in query.items() if value}
    return render_template("users.html", **page_context(current, users=answer.get("items") or [], total=total,
                                                         page=filters["page"], pages=pages, filters=filters,
                                                         query=query))


@bp.get("/<uuid:hospital_id>/spaerrede")
@login_required
def blocked(hospital_id: UUID):
    current = hospital(hospital_id)
    return render_template("users_blocked.html", **page_context(current, users=client.blocked_users(hospital_id)))


@bp.post("/<uuid:hospital_id>/bruger/<uuid:user_id>/nulstil-kode")
@login_required
def unlock(hospital_id: UUID, user_id: UUID):
    """"Nulstil kode": identity clears Keycloak's lock and sends the user a link to set a new
    password (e-mail, SMS notice when there is a phone). The administrator never sees a password."""
    hospital(hospital_id)
    client.unlock(hospital_id, user_id)
    flash("Spærringen er ophævet. Brugeren har fået en e-mail med et link til at vælge en ny adgangskode.",
          "success")
    back = request.form.get("tilbage")
    if back == "bruger":
        return redirect(url_for("users.detail", hospital_id=hospital_id, user_id=user_id))
    return redirect(url_for("users.blocked", hospital_id=hospital_id))
