"""Choosing a password with a link: the welcome e-mail's /aktiver/<token> (purpose "activation"),
an administrator's "Nulstil kode" link (same address, purpose "reset"), and the last step of a
reset by SMS code (the token is put in the session by reset.py).

The token leaves the address bar at once: /aktiver/<token> keeps it in the server-side session and
redirects to /ny-adgangskode, so it is not in the browser's history nor sent on as a Referer.
"""
from __future__ import annotations

from flask import redirect, render_template, request, session, url_for

from ..adapters.gateway_client import Rejected
from ..api import public_api
from . import bp
from .messages import PASSWORD_CODES, PASSWORD_REFUSED, codes_of, policy_lines

TOKEN = "set_password_token"
MAX_TOKEN_LENGTH = 200


def invalid_link_page():
    session.pop(TOKEN, None)
    return render_template("account/invalid_link.html"), 410


@bp.get("/aktiver/<token>")
def activation_link(token: str):
    if len(token) > MAX_TOKEN_LENGTH:
        return invalid_link_page()
    session[TOKEN] = token
    return redirect(url_for("account.new_password"))


def _token_info(token: str):
    try:
        return public_api("POST", "/api/identity/public/set-password/check", json={"token": token})
    except Rejected as refused:
        if refused.status == 422:
            return None
        raise


def _form(info: dict, errors: dict[str, str] | None = None, status: int = 200):
    return render_template("account/new_password.html", info=info, rules=policy_lines(info.get("policy")),
                           errors=errors or {}), status


@bp.get("/ny-adgangskode")
def new_password():
    token = session.get(TOKEN)
    info = _token_info(token) if token else None
    if info is None:
        return invalid_link_page()
    return _form(info)


@bp.post("/ny-adgangskode")
def save_new_password():
    token = session.get(TOKEN)
    info = _token_info(token) if token else None
    if info is None:
        return invalid_link_page()
    password, repeated = request.form.get("password", ""), request.form.get("password_repeat", "")
    if not password:
        return _form(info, {"password": PASSWORD_CODES["required"]}, 422)
    if password != repeated:
        return _form(info, {"password_repeat": "De to adgangskoder er ikke ens."}, 422)
    try:
        public_api("POST", "/api/identity/public/set-password", json={"token": token, "password": password})
    except Rejected as refused:
        codes = codes_of(refused)
        if "token" in codes:
            return invalid_link_page()
        if refused.status == 422:
            return _form(info, {"password": PASSWORD_CODES.get(codes.get("password", ""), PASSWORD_REFUSED)}, 422)
        raise
    session.pop(TOKEN, None)
    return render_template("account/password_saved.html", purpose=info["purpose"])
