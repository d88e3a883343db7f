"""Flask's ``session``, kept on the server (adapters.session_store); the cookie holds a random id.

The cookie is HttpOnly, SameSite=Lax (the login callback is a top-level navigation from Keycloak,
so Lax still sends it), and Secure whenever the web UI is served over https. A session is written
back only when the request changed it, so a page view never overwrites tokens another request has
just refreshed. ``session.rotate()`` gives the session a new id (after login: no fixation).
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from .adapters.session_store import SessionStore

COOKIE = "danbio_session"
ANONYMOUS_LIFETIME = timedelta(minutes=15)  # a login started and not finished


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, data=None, sid: str | None = None):
        def on_update(self_):
            self_.modified = True

        super().__init__(data or {}, on_update)
        self.sid = sid
        self.modified = False
        self.rotated_from: str | None = None

    def rotate(self) -> None:
        if self.sid is not None:
            self.rotated_from = self.sid
        self.sid = None
        self.modified = True

    def set_quietly(self, key, value) -> None:
        """Change the in-memory copy only (the store already holds this value)."""
        dict.__setitem__(self, key, value)


def lifetime_of(data: dict) -> timedelta:
    tokens = data.get("tokens")
    if tokens:
        return timedelta(seconds=max(60, tokens["refresh_expires_in"]))
    return ANONYMOUS_LIFETIME


class ServerSessionInterface(SessionInterface):
    def __init__(self, store: SessionStore, *, secure: bool):
        self.store, self.secure = store, secure

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(COOKIE)
        if sid and len(sid) <= 128:
            data = self.store.load(sid)
            if data is not None:
                return ServerSession(data, sid)
        return ServerSession()

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:
        response.vary.add("Cookie")
        if session.rotated_from:
            self.store.delete(session.rotated_from)
        if not session:
            if session.sid or session.rotated_from:
                if session.sid:
                    self.store.delete(session.sid)
                response.delete_cookie(COOKIE, path="/", httponly=True, secure=self.secure, samesite="Lax")
            return
        if not session.modified:
            return
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)
        self.store.save(session.sid, dict(session), lifetime=lifetime_of(session))
        response.set_cookie(COOKIE, session.sid, httponly=True, secure=self.secure, samesite="Lax", path="/")
