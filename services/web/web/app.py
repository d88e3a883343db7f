"""create_app(): the Danish web UI staff use. It talks only to the gateway (and to Keycloak to
log users in and out)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from servicekit.config import load
from servicekit.db import Database
from servicekit.web import create_service_app

from . import account, auth, errors, federation, patients, users, views
from .adapters.gateway_client import GatewayClient
from .adapters.oidc import OidcClient
from .adapters.session_store import SessionStore
from .session import ServerSessionInterface
from .settings import WebSettings


def create_app(environ=None) -> Flask:
    settings = load(WebSettings, "web", environ).check()
    db = Database(settings.database_url)
    app = create_service_app(settings, title="danbio web", blueprints=[], openapi=False,
                             readiness={"session store": db.ping})
    app.config.update(SECRET_KEY=settings.session_keys.flask_secret, WTF_CSRF_TIME_LIMIT=None,
                      WTF_CSRF_SSL_STRICT=settings.secure_cookies, TEMPLATES_AUTO_RELOAD=False,
                      DANBIO_SECRET_PATH_PREFIXES=("/aktiver/",))  # the welcome link's token stays out of logs
    app.session_interface = ServerSessionInterface(SessionStore(db, settings.session_keys.sealer),
                                                   secure=settings.secure_cookies)
    CSRFProtect(app)  # every POST form carries csrf_token(), bound to the session
    app.extensions["web.settings"] = settings
    app.extensions["web.sessions"] = app.session_interface.store
    app.extensions["web.oidc"] = OidcClient(settings.oidc_issuer, settings.oidc_client_id,
                                            settings.oidc_client_secret, settings.redirect_uri,
                                            timeout=settings.http_timeout)
    app.extensions["web.gateway"] = GatewayClient(settings.gateway_url, timeout=settings.http_timeout)
    if settings.trusted_proxy_hops:
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    auth.install(app)
    federation.install(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(users.bp)
    app.register_blueprint(patients.bp)
    app.register_blueprint(account.bp)
    errors.install(app)
    _install_security_headers(app, settings)
    return app


def _install_security_headers(app: Flask, settings: WebSettings) -> None:
    provider = "{0.scheme}://{0.netloc}".format(urlsplit(settings.oidc_issuer))
    # The logout form's answer is a redirect to Keycloak: form-action must allow its origin.
    csp = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
           f"form-action 'self' {provider}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # same-origin: Flask-WTF checks the Referer of a POST over https; nothing leaks to other sites.
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")  # pages show personal data
        if settings.secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
