"""E1: create a patient. As soon as a complete CPR number is typed, a message says whether the
patient is registered at other departments (a small script asks by POST; without it, the button
"Tjek CPR-nummer" does the same). "GEM" creates the patient — or, for one registered elsewhere,
leads to choosing the department(s) to transfer from, and "GEM" there sends the request(s).

Between those two steps the CPR number waits in the server-side session (sealed at rest), never in
a URL or a hidden field the next page would repeat. E2's "Request to import" ends in the same step.
"""
from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, session, url_for

from ..adapters.gateway_client import Rejected
from ..auth import login_required
from ..profile import current_profile
from . import bp, client, messages

DRAFT = "transfer_draft"


def cpr_message(lookup: dict[str, Any]) -> tuple[str, str]:
    """(level, Danish text) for what a look-up found; department names only, as the service gives."""
    others = [messages.department_label(d) for d in lookup.get("other_departments", [])]
    mine = [messages.department_label(d) for d in lookup.get("your_departments", [])]
    if others:
        return "warning", (f"Patienten er allerede registreret på anden afdeling: {'; '.join(others)}. "
                           "Udfyld formularen, og tryk GEM for at vælge, hvilken afdeling patienten skal "
                           "overføres fra.")
    if mine:
        return "warning", f"Patienten er allerede registreret på din afdeling: {'; '.join(mine)}."
    return "ok", "Patienten er ikke registreret på nogen afdeling i DANBIO."


@bp.post("/patienter/cpr-tjek")
@login_required
def cpr_check():
    """For the create form's script: the message for a typed CPR, as JSON. A POST (with the form's
    CSRF token), so the number is never in a URL."""
    cpr = request.form.get("cpr", "")
    if not messages.complete_cpr(cpr):
        return jsonify(level="", message="")
    try:
        level, text = cpr_message(client.lookup(cpr))
    except Rejected as error:
        level, text = "error", messages.first_error(error)
    return jsonify(level=level, message=text)


@bp.route("/patienter/opret", methods=["GET", "POST"])
@login_required
def create():
    profile = current_profile()
    departments = [d for d in client.my_departments() if d.get("active", True)]
    form = {key: request.form.get(key, "").strip() for key in ("cpr", "name", "diagnosis_group", "department_id")}
    if request.method == "GET" and len(departments) == 1:
        form["department_id"] = str(departments[0]["id"])
    errors: dict[str, str] = {}
    check = None
    if request.method == "POST":
        if request.form.get("action") == "check":
            check, errors = _check(form["cpr"])
        else:
            outcome = _save(form, departments)
            if not isinstance(outcome, dict):
                return outcome
            errors = outcome
    status = 422 if errors else 200
    return render_template("patients/create.html", profile=profile, departments=departments, form=form,
                           errors=errors, check=check), status


def _check(cpr: str) -> tuple[tuple[str, str] | None, dict[str, str]]:
    if not messages.complete_cpr(cpr):
        return None, {"cpr": messages.CODES["cpr_format"]}
    try:
        return cpr_message(client.lookup(cpr)), {}
    except Rejected as error:
        return None, messages.field_errors(error)


def _save(form: dict[str, str], departments: list[dict]):
    """A redirect when done; else the errors to show with the form."""
    errors = {key: messages.CODES["required"] for key, value in form.items() if not value}
    if form["cpr"] and not messages.complete_cpr(form["cpr"]):
        errors["cpr"] = messages.CODES["cpr_format"]
    if errors:
        return errors
    try:
        created = client.create_patient(**form)
    except Rejected as error:
        codes = error.problem.get("codes") or {}
        if error.status == 409 and codes.get("cpr") == "registered_elsewhere":
            return _to_transfer(form, departments)
        return messages.field_errors(error) or {"cpr": messages.first_error(error)}
    flash(f"Patienten {created['name']} ({created['cpr_masked']}) er oprettet.", "success")
    return redirect(url_for("patients.patient_page", patient_id=created["id"]))


def _to_transfer(form: dict[str, str], departments: list[dict]):
    """Registered elsewhere: choose which of those departments to take the patient over from."""
    found = client.lookup(form["cpr"])
    target = next((d for d in departments if str(d["id"]) == form["department_id"]), None)
    start_transfer_draft(found, cpr=form["cpr"], to_department=target, origin=url_for("patients.create"))
    return redirect(url_for("patients.transfer_sources"))


def start_transfer_draft(found: dict[str, Any], *, cpr: str, to_department: dict[str, Any] | None,
                         origin: str) -> None:
    """Remember, in the server-side session, a transfer request the user is about to make."""
    target_id = str(to_department["id"]) if to_department else ""
    sources = [{"id": str(d["id"]), "label": messages.department_label(d)}
               for d in [*found.get("your_departments", []), *found.get("other_departments", [])]
               if str(d["id"]) != target_id]
    session[DRAFT] = {"cpr": cpr, "cpr_masked": found.get("cpr_masked", ""), "to_department_id": target_id,
                      "to_label": messages.department_label(to_department) if to_department else "",
                      "sources": sources, "origin": origin}


@bp.route("/overfoersler/ny", methods=["GET", "POST"])
@login_required
def transfer_sources():
    """Choose the department(s) to transfer the patient from, then "GEM": one request each."""
    profile = current_profile()
    draft = session.get(DRAFT)
    if not draft:
        flash("Der er ingen overførsel i gang. Start med at oprette patienten eller med "
              "\"Request to import\" på patienttavlen.", "info")
        return redirect(url_for("patients.create"))
    error = None
    chosen = request.form.getlist("from_department_ids")
    if request.method == "POST":
        known = {source["id"] for source in draft["sources"]}
        chosen = [value for value in chosen if value in known]
        if not chosen:
            error = "Vælg mindst én afdeling, patienten skal overføres fra."
        else:
            try:
                client.request_transfers(cpr=draft["cpr"], from_department_ids=chosen,
                                         to_department_id=draft["to_department_id"])
            except Rejected as rejected:
                error = messages.first_error(rejected)
            else:
                session.pop(DRAFT, None)
                names = "; ".join(s["label"] for s in draft["sources"] if s["id"] in chosen)
                flash(f"Anmodningen om overførsel af patienten {draft['cpr_masked']} er sendt til: {names}. "
                      "Afdelingen får besked i DANBIO.", "success")
                return redirect(url_for("patients.transfer_lists"))
    elif len(draft["sources"]) == 1:
        chosen = [draft["sources"][0]["id"]]
    return render_template("patients/transfer_sources.html", profile=profile, draft=draft, chosen=chosen,
                           error=error), 422 if error else 200
