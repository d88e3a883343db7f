"""A3/A4 brugergennemgang: when the hospital's users were last reviewed and by whom, the button
that documents today's review, and the history with the access removed between reviews."""
from __future__ import annotations

from uuid import UUID

from flask import flash, redirect, render_template, url_for

from ..auth import login_required
from . import bp, client
from .context import hospital, page_context


@bp.get("/<uuid:hospital_id>/gennemgang")
@login_required
def review(hospital_id: UUID):
    current = hospital(hospital_id)
    return render_template("users_review.html", **page_context(current, review=client.reviews(hospital_id)))


@bp.post("/<uuid:hospital_id>/gennemgang")
@login_required
def document_review(hospital_id: UUID):
    current = hospital(hospital_id)
    client.document_review(hospital_id)
    flash(f"Brugergennemgangen af {current.name} er dokumenteret i dag.", "success")
    return redirect(url_for("users.review", hospital_id=hospital_id))
