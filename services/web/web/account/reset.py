"""Forgotten password (C2): "Glemt adgangskode?" → username → "Skift adgangskode" → send a code to
the mobile phone → type it → "Verificer koden" → the new-password form (activation.py).

What the pages say never depends on whether the username exists, has a phone or is blocked:
identity answers the same, and so do these pages.
"""
from __future__ import annotations

from flask import redirect, render_template, request, session, url_for

from ..adapters.gateway_client import Rejected
from ..api import public_api
from . import bp
from .activation import TOKEN
from .messages import RESET_MESSAGES, codes_of, tries_left

RESET = "password_reset"  # {"id": reset id, "code_sent": bool}


def _refusal(refused: Rejected) -> str | None:
    """The Danish sentence for a refusal of a reset step, or None if it is not one of them."""
    codes = codes_of(refused)
    if refused.status == 429:
        return RESET_MESSAGES["too_many_codes" if codes.get("reset") == "too_many_codes" else "rate_limited"]
    code = codes.get("code") or codes.get("reset")
    if code == "invalid_code":
        return RESET_MESSAGES["invalid_code"].format(left=tries_left(refused))
    return RESET_MESSAGES.get(code or "")


@bp.get("/glemt-adgangskode")
def forgot_password():
    return render_template("account/reset_start.html", error=request.args.get("fejl") and RESET_MESSAGES.get(
        request.args["fejl"]), username="")


@bp.post("/glemt-adgangskode")
def start_reset():
    username = request.form.get("username", "").strip()
    if not username:
        return render_template("account/reset_start.html", error="Skriv dit brugernavn.", username=""), 422
    try:
        answer = public_api("POST", "/api/identity/public/password-resets", json={"username": username[:254]})
    except Rejected as refused:
        message = _refusal(refused) or "Brugernavnet kunne ikke bruges. Prøv igen."
        return render_template("account/reset_start.html", error=message, username=username), refused.status
    session[RESET] = {"id": answer["reset_id"], "code_sent": False}
    return redirect(url_for("account.reset_code"))


def _reset_or_restart():
    reset = session.get(RESET)
    return reset if isinstance(reset, dict) and reset.get("id") else None


@bp.get("/glemt-adgangskode/kode")
def reset_code():
    reset = _reset_or_restart()
    if reset is None:
        return redirect(url_for("account.forgot_password"))
    return render_template("account/reset_code.html", code_sent=reset["code_sent"], error=None)


@bp.post("/glemt-adgangskode/send-kode")
def send_code():
    reset = _reset_or_restart()
    if reset is None:
        return redirect(url_for("account.forgot_password"))
    try:
        public_api("POST", f"/api/identity/public/password-resets/{reset['id']}/code")
    except Rejected as refused:
        if codes_of(refused).get("reset") == "reset_expired":
            session.pop(RESET, None)
            return redirect(url_for("account.forgot_password", fejl="reset_expired"))
        message = _refusal(refused)
        if message is None:
            raise
        return render_template("account/reset_code.html", code_sent=reset["code_sent"], error=message), refused.status
    session[RESET] = {**reset, "code_sent": True}
    return redirect(url_for("account.reset_code"))


@bp.post("/glemt-adgangskode/verificer")
def verify_code():
    reset = _reset_or_restart()
    if reset is None:
        return redirect(url_for("account.forgot_password"))
    code = request.form.get("code", "").strip()[:20]
    if not code:
        return render_template("account/reset_code.html", code_sent=True, error="Skriv koden fra SMS'en."), 422
    try:
        answer = public_api("POST", f"/api/identity/public/password-resets/{reset['id']}/verify", json={"code": code})
    except Rejected as refused:
        if codes_of(refused).get("reset") == "reset_expired":
            session.pop(RESET, None)
            return redirect(url_for("account.forgot_password", fejl="reset_expired"))
        message = _refusal(refused)
        if message is None:
            raise
        return render_template("account/reset_code.html", code_sent=True, error=message), refused.status
    session.pop(RESET, None)
    session[TOKEN] = answer["token"]
    return redirect(url_for("account.new_password"))
