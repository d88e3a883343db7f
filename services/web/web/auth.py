"""Logging in and out with Keycloak, and the user's access token for calls to the gateway.

/login sends the browser to Keycloak with state, nonce and a PKCE challenge, remembered in the
(server-side) session; /auth/callback checks the state, exchanges the code with the verifier,
verifies the ID token and its nonce, gives the session a new id and keeps the tokens in it;
POST /logout forgets them and sends the browser to Keycloak's end-session endpoint.
"""
from __future__ import annotations

import logging
import time
from functools import wraps

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for

from .adapters.gateway_client import GatewayError, TokenRefused
from .adapters.oidc import LoginFailed, LoginRequest, OidcClient, SessionEnded
from .session import lifetime_of

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

PENDING = "pending_logins"
PENDING_MAX = 5            # logins started in other tabs stay valid
PENDING_SECONDS = 15 * 60
LINK_RETURNED = "link_returned"  # the IdP alias whose linking just came back through the callback
REFRESH_MARGIN = 30        # refresh an access token that has less than this many seconds left


class LoginRequired(Exception):
    """No usable tokens: the user must log in (again)."""


def oidc() -> OidcClient:
    return current_app.extensions["web.oidc"]


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an open redirect.

    Control characters and spaces are refused too (issue 10, abuse suite): browsers drop tabs and
    line breaks from a URL, so "/<TAB>/evil.example" became "//evil.example" — another site — and
    a CR or LF made the redirect after login fail with a 500."""
    if (not value or not value.startswith("/") or value.startswith("//") or "\\" in value
            or any(ch.isspace() or ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0 for ch in value)):
        return "/"
    return value


@bp.get("/login")
def login():
    # ?idp=<alias>: straight to that identity provider (the front page's MitID / Lokal IdP tabs).
    idp = request.args.get("idp", "")
    extra = {"kc_idp_hint": idp} if idp in current_app.extensions["web.login_options"].aliases else None
    return start_login(next_path=safe_next(request.args.get("next")), extra=extra)


def returned_from_linking(alias: str) -> bool:
    """True once after Keycloak sent the browser back from linking ``alias`` that this session
    started: the page the callback leads to acts only then, not on a link followed from elsewhere."""
    return session.pop(LINK_RETURNED, None) == alias


def start_login(*, next_path: str, extra: dict[str, str] | None = None, link: str | None = None):
    """Send the browser to Keycloak; ``extra`` authorization parameters (kc_idp_hint, kc_action);
    ``link``: an IdP alias being linked (federation.py), remembered for the callback."""
    started = LoginRequest.new()
    now = time.time()
    pending = {state: entry for state, entry in (session.get(PENDING) or {}).items()
               if now - entry["at"] < PENDING_SECONDS}
    pending[started.state] = {"nonce": started.nonce, "verifier": started.code_verifier, "at": now,
                              "next": next_path, "link": link}
    session[PENDING] = dict(sorted(pending.items(), key=lambda item: item[1]["at"])[-PENDING_MAX:])
    return redirect(oidc().authorization_url(started, extra=extra))


@bp.get("/auth/callback")
def callback():
    pending = dict(session.get(PENDING) or {})
    entry = pending.pop(request.args.get("state", ""), None)
    session[PENDING] = pending
    if entry is None or time.time() - entry["at"] >= PENDING_SECONDS:
        return render_template("error.html", title="Login kunne ikke gennemføres",
                               message="Login-forsøget er udløbet eller kunne ikke genkendes. Prøv at logge ind igen.",
                               login_link=True), 400
    if entry.get("link") and not request.args.get("code"):
        # Linking ended without a new code (e.g. an error at Keycloak): the check reports it.
        session[LINK_RETURNED] = entry["link"]
        return redirect(entry["next"])
    if request.args.get("error") or not request.args.get("code"):
        return render_template("error.html", title="Login blev afbrudt",
                               message="Login hos identitetsudbyderen blev ikke gennemført. Prøv igen.",
                               login_link=True), 400
    try:
        tokens, claims = oidc().exchange_code(request.args["code"], LoginRequest(
            state="", nonce=entry["nonce"], code_verifier=entry["verifier"]))
    except LoginFailed:
        current_app.logger.warning("login refused at the code exchange or ID token check")
        return render_template("error.html", title="Login kunne ikke gennemføres",
                               message="Svaret fra login-tjenesten kunne ikke godkendes. Prøv at logge ind igen.",
                               login_link=True), 400
    session.clear()
    session.rotate()
    session["tokens"] = tokens.to_dict()
    session["user"] = {"sub": claims["sub"],
                       "name": claims.get("name") or claims.get("preferred_username") or ""}
    _record_login()
    if entry.get("link"):
        session[LINK_RETURNED] = entry["link"]
    if claims.get("identity_provider") and not entry.get("link"):
        from .federation import record_federated_login

        refused = record_federated_login(claims["identity_provider"])
        if refused:
            session.clear()
            return render_template("error.html", title="Login afvist", message=refused, login_link=True), 403
    return redirect(entry["next"])


@bp.post("/logout")
def logout():
    tokens = session.get("tokens")
    session.clear()
    if not tokens:
        return redirect(url_for("pages.home"))
    public_url = current_app.extensions["web.settings"].public_url
    # Keycloak ends its session (SSO cookie, refresh tokens) and sends the browser back here.
    return redirect(oidc().end_session_url(tokens["id_token"], f"{public_url}/"))


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not session.get("tokens"):
            raise LoginRequired()
        return view(*args, **kwargs)
    return wrapper


def access_token(*, force_refresh: bool = False) -> str:
    tokens = session.get("tokens")
    if not tokens:
        raise LoginRequired()
    if not force_refresh and tokens["access_expires_at"] - time.time() > REFRESH_MARGIN:
        return tokens["access_token"]
    return _refresh(tokens["access_token"])


def _refresh(stale_access_token: str) -> str:
    """New tokens, once per session however many requests need them at the same moment: the
    stored session is locked, and a request that finds it already refreshed takes those tokens
    (the realm revokes a refresh token once used)."""
    store = current_app.extensions["web.sessions"]
    with store.locked(session.sid) as locked:
        stored = (locked.data or {}).get("tokens")
        if stored is None:
            session.clear()
            raise LoginRequired()
        if stored["access_token"] != stale_access_token and stored["access_expires_at"] - time.time() > REFRESH_MARGIN:
            fresh = stored
        else:
            try:
                fresh = oidc().refresh(stored).to_dict()
            except SessionEnded:
                session.clear()
                raise LoginRequired() from None
            data = {**locked.data, "tokens": fresh}
            locked.write(data, lifetime=lifetime_of(data))
    session.set_quietly("tokens", fresh)
    return fresh["access_token"]


def call_gateway(call):
    """Run ``call(access_token)``; if the gateway refuses the token, refresh once and try again."""
    try:
        return call(access_token())
    except TokenRefused:
        try:
            return call(access_token(force_refresh=True))
        except TokenRefused:
            session.clear()
            raise LoginRequired() from None


def request_id() -> str:
    return g.get("request_id", "")


def install(app) -> None:
    app.register_blueprint(bp)

    @app.errorhandler(LoginRequired)
    def to_login(_error):
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("auth.login"))


def _record_login() -> None:
    """identity keeps each user's last login for the administrators' lists. A login is not refused
    because that bookkeeping failed: it is logged and the user goes on."""
    from .api import api  # api builds on this module

    try:
        api("POST", "/api/identity/me/logins")
    except (GatewayError, LoginRequired):
        log.warning("could not record a login with identity")
